package state

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/portcullis-sec/portcullis/exposure"
)

// loadCounter counts the loads of the store it wraps.
type loadCounter struct {
	Store
	loads int
}

func (c *loadCounter) Load(ctx context.Context, s exposure.Scope) (*Baseline, Version, error) {
	c.loads++
	return c.Store.Load(ctx, s)
}

// UpdateFrom saves from the baseline it is given without loading; when
// someone saved since, it loads the newer one and applies to that.
func TestUpdateFrom(t *testing.T) {
	ctx := context.Background()
	dir, err := Open(ctx, filepath.Join(t.TempDir(), "state"), aws.Config{})
	if err != nil {
		t.Fatal(err)
	}
	st := &loadCounter{Store: dir}
	s := exposure.Scope{Provider: exposure.ProviderAWS, Account: "111122223333", Region: "eu-west-1"}
	setRun := func(id string) func(*Baseline) (*Baseline, error) {
		return func(prev *Baseline) (*Baseline, error) {
			next := prev.Clone()
			next.Scope, next.RunID = s, id
			return next, nil
		}
	}
	first, v1, err := Update(ctx, st, s, setRun("run-1"))
	if err != nil || st.loads != 1 {
		t.Fatalf("update: %v, %d loads", err, st.loads)
	}

	// From the saved baseline: no load.
	second, v2, err := UpdateFrom(ctx, st, s, first, v1, setRun("run-2"))
	if err != nil || st.loads != 1 || second.RunID != "run-2" {
		t.Fatalf("update from the saved baseline: %v, %d loads, run %q", err, st.loads, second.RunID)
	}

	// From a stale one (v1, saved over by run-2): the conflict makes it load
	// and apply to run-2's baseline, whose version it returns.
	var saw string
	third, v3, err := UpdateFrom(ctx, st, s, first, v1, func(prev *Baseline) (*Baseline, error) {
		saw = prev.RunID
		return setRun("run-3")(prev)
	})
	if err != nil || st.loads != 2 || saw != "run-2" || third.RunID != "run-3" || v3 == v2 {
		t.Fatalf("update from a stale baseline: %v, %d loads, applied to %q, saved %q", err, st.loads, saw, third.RunID)
	}
	got, v, err := dir.Load(ctx, s)
	if err != nil || got.RunID != "run-3" || v != v3 {
		t.Fatalf("stored: %v, run %q, version %q (want %q)", err, got.RunID, v, v3)
	}
}
