package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDiff runs `portcullis diff` on two reviewed report fixtures (state's
// testdata): one exposure widened from a narrow range to anyone on 22, one
// resolved, one new, one newly confirmed, and a region whose collection
// failed in the new report (not diffed: nothing there resolves).
func TestDiff(t *testing.T) {
	old, cur := filepath.Join("..", "..", "state", "testdata", "old.json"), filepath.Join("..", "..", "state", "testdata", "new.json")

	code, out, errOut := runCLI(t, "diff", old, cur)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{"1 new, 1 widened, 1 confirmed, 1 resolved", "Not diffed", "us-east-1",
		"widened    critical  effective  192.0.2.10", "sources on 22", "resolved   critical  effective  192.0.2.11"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}

	code, out, _ = runCLI(t, "diff", "--format", "json", old, cur)
	var c struct {
		Counts  map[string]int            `json:"counts"`
		Items   []struct{ Kind string }   `json:"items"`
		Skipped []struct{ Region string } `json:"skipped"`
	}
	if err := json.Unmarshal([]byte(out), &c); err != nil || code != exitOK {
		t.Fatalf("json: exit %d, %v\n%s", code, err, out)
	}
	if c.Counts["widened"] != 1 || c.Counts["resolved"] != 1 || c.Counts["new"] != 1 || len(c.Items) != 4 || len(c.Skipped) != 1 {
		t.Errorf("json diff: %+v", c)
	}

	code, out, _ = runCLI(t, "diff", "--format", "markdown", old, cur)
	if code != exitOK || !strings.Contains(out, "| widened | critical | effective | 192.0.2.10 |") {
		t.Errorf("markdown: exit %d\n%s", code, out)
	}

	// --fail-on gates on what was newly exposed: the widened SSH is critical.
	if code, _, _ := runCLI(t, "diff", "--fail-on", "critical", old, cur); code != exitFindings {
		t.Errorf("--fail-on critical: exit %d, want %d", code, exitFindings)
	}
	// Reversed, the resolved RDP exposure is new and critical; a report
	// against itself has no change at all.
	if code, out, _ := runCLI(t, "diff", "--fail-on", "critical", cur, old); code != exitFindings || !strings.Contains(out, "new       critical  effective  192.0.2.11") {
		t.Errorf("reversed --fail-on critical: exit %d, want %d\n%s", code, exitFindings, out)
	}
	if code, out, _ := runCLI(t, "diff", "--fail-on", "info", cur, cur); code != exitOK || !strings.Contains(out, "no changes") {
		t.Errorf("self diff: exit %d, want 0\n%s", code, out)
	}

	bad := filepath.Join(t.TempDir(), "bad.json")
	if err := os.WriteFile(bad, []byte(`{"schemaVersion":"9.0"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"diff", old}, {"diff", old, bad}, {"diff", "--format", "html", old, cur}, {"diff", "--fail-on", "urgent", old, cur}} {
		if code, _, errOut := runCLI(t, args...); code != exitError || errOut == "" {
			t.Errorf("%v: exit %d, stderr %q; want %d with a message", args, code, errOut, exitError)
		}
	}
}
