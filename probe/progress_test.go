package probe

import (
	"context"
	"net/netip"
	"slices"
	"sync"
	"testing"

	"github.com/portcullis-sec/portcullis/exposure"
	"github.com/portcullis-sec/portcullis/probe/lab"
)

// recordProgress is a Progress that remembers every call; probes finish on
// many goroutines, so it locks like any real implementation must.
type recordProgress struct {
	mu    sync.Mutex
	added []int
	done  []string
}

func (r *recordProgress) Add(n int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.added = append(r.added, n)
}

func (r *recordProgress) Done(what string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.done = append(r.done, what)
}

// TestRunProgress: Run announces every target once and marks each one done,
// whether it was probed, refused by the guard or never reached because the
// context had ended.
func TestRunProgress(t *testing.T) {
	l := startLab(t, lab.Service{Kind: lab.SSH})
	probed := targetOf(l.Endpoints[0], "ssh")
	refused := Target{Addr: netip.MustParseAddr("203.0.113.7"), Protocol: exposure.ProtocolTCP, Port: 22} // not loopback: the guard says no
	cancelled, cancel := context.WithCancel(t.Context())
	cancel()

	tests := []struct {
		name    string
		ctx     context.Context
		targets []Target
		want    []string
	}{
		{"probed and refused", t.Context(), []Target{probed, refused},
			[]string{"probe tcp 203.0.113.7:22", "probe tcp " + l.Endpoints[0].Addr.String()}},
		{"context ended", cancelled, []Target{probed, refused},
			[]string{"probe tcp 203.0.113.7:22", "probe tcp " + l.Endpoints[0].Addr.String()}},
		{"nothing to probe", t.Context(), nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newProber(t, Config{})
			var rec recordProgress
			obs := p.Run(tt.ctx, tt.targets, &rec)
			if len(obs) != len(tt.targets) {
				t.Fatalf("%d observations for %d targets", len(obs), len(tt.targets))
			}
			if !slices.Equal(rec.added, []int{len(tt.targets)}) {
				t.Errorf("Add calls %v, want one Add(%d)", rec.added, len(tt.targets))
			}
			slices.Sort(rec.done)
			slices.Sort(tt.want)
			if !slices.Equal(rec.done, tt.want) {
				t.Errorf("Done calls %q, want %q", rec.done, tt.want)
			}
		})
	}
}

// TestRunWithoutProgress: a nil Progress is allowed and discards.
func TestRunWithoutProgress(t *testing.T) {
	p := newProber(t, Config{})
	refused := Target{Addr: netip.MustParseAddr("198.51.100.7"), Protocol: exposure.ProtocolTCP, Port: 443}
	obs := p.Run(t.Context(), []Target{refused}, nil)
	if len(obs) != 1 || obs[0].State != exposure.ProbeSkipped {
		t.Errorf("observations %+v, want one skipped", obs)
	}
}
