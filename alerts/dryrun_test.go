package alerts

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/portcullis-sec/portcullis/rules"
)

func TestDryRun(t *testing.T) {
	var out bytes.Buffer
	d := NewDryRun(&out, "slack, email")
	ctx := context.Background()
	for _, m := range []Message{realistic(), digest(), {Scope: account, Initial: &InitialSummary{Exposures: 42, BySeverity: map[rules.Severity]int{rules.Critical: 3, rules.High: 9, rules.Medium: 30}}}} {
		if err := d.Notify(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	golden(t, "dryrun.txt", out.Bytes())
	for _, bad := range []string{"\x1b", "\x07", "\u202E"} {
		if strings.Contains(out.String(), bad) {
			t.Errorf("dry run output carries %q", bad)
		}
	}
}
