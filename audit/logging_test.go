package audit

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"testing"

	"github.com/portcullis-sec/portcullis/demo"
)

// TestStagesAreLogged: an offline audit logs every stage at Info, with
// its duration and what it counted (audit -v on a snapshot used to say
// nothing).
func TestStagesAreLogged(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo}))
	res, err := Run(context.Background(), Options{Snapshot: demo.Estate(), SnapshotDir: "demo", Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	lines := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		if m := regexp.MustCompile(` stage=(\w+)`).FindStringSubmatch(l); m != nil {
			lines[m[1]] = l
		}
	}
	effective := 0
	for _, x := range res.Report.Exposures {
		if x.Level == "effective" {
			effective++
		}
	}
	duration := regexp.MustCompile(` duration=\d[\d.]*(µs|ms|s)\b`)
	cpu := regexp.MustCompile(` cpu=\d[\d.]*(ms|s|m[\d.]+s)\b`)
	for _, c := range []struct {
		stage string
		want  []string
	}{
		{"read", []string{"snapshot=demo", "errors=0"}},
		{"normalize", []string{"providers=\"[aws azure gcp]\"", fmt.Sprintf("targets=%d", len(res.Inventory.Targets))}},
		{"analyze", []string{fmt.Sprintf("effective=%d", effective), fmt.Sprintf("latent=%d", len(res.Report.Exposures)-effective)}},
		{"probe", []string{"enabled=false"}},
		{"evaluate", []string{fmt.Sprintf("findings=%d", len(res.Report.Findings)), fmt.Sprintf("controls=%d", len(res.Report.Compliance))}},
	} {
		l, ok := lines[c.stage]
		if !ok {
			t.Errorf("no log line for stage %s in:\n%s", c.stage, buf.String())
			continue
		}
		if c.stage != "probe" && !duration.MatchString(l) {
			t.Errorf("stage %s logs no duration: %s", c.stage, l)
		}
		// Where the process's CPU time can be read, every timed stage
		// logs its share of it (wall time alone misleads on a busy
		// machine).
		if c.stage != "probe" && processCPU() > 0 && !cpu.MatchString(l) {
			t.Errorf("stage %s logs no CPU time: %s", c.stage, l)
		}
		for _, w := range c.want {
			if !strings.Contains(l, w) {
				t.Errorf("stage %s: %q lacks %s", c.stage, l, w)
			}
		}
	}
}

// stageProgress records what a progress display is told.
type stageProgress struct {
	total int
	done  []string
}

func (p *stageProgress) Add(n int)     { p.total += n }
func (p *stageProgress) Done(w string) { p.done = append(p.done, w) }

// TestSnapshotStagesShowProgress: a snapshot's audit tells the progress
// display (the CLI's terminal line) each stage as it finishes, with what
// it counted, so a long audit of a large estate does not look hung.
func TestSnapshotStagesShowProgress(t *testing.T) {
	p := &stageProgress{}
	res, err := Run(context.Background(), Options{Snapshot: demo.Estate(), SnapshotDir: "demo", Progress: p})
	if err != nil {
		t.Fatal(err)
	}
	if p.total != 3 || len(p.done) != 3 {
		t.Fatalf("progress: %d announced, done %q; want 3 stages", p.total, p.done)
	}
	effective := 0
	for _, x := range res.Report.Exposures {
		if x.Level == "effective" {
			effective++
		}
	}
	for i, want := range []string{
		fmt.Sprintf("read %d targets", len(res.Inventory.Targets)),
		fmt.Sprintf("%d effective, %d latent exposures", effective, len(res.Report.Exposures)-effective),
		fmt.Sprintf("%d findings", len(res.Report.Findings)),
	} {
		if !strings.Contains(p.done[i], want) {
			t.Errorf("stage %d: %q lacks %q", i+1, p.done[i], want)
		}
	}
}
