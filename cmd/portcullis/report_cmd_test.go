package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/portcullis-sec/portcullis/audit"
	"github.com/portcullis-sec/portcullis/demo"
	"github.com/portcullis-sec/portcullis/reports"
	"github.com/portcullis-sec/portcullis/rules"
)

// demoJSON audits the demo estate offline and saves its JSON report.
func demoJSON(t *testing.T) (string, *reports.Report) {
	t.Helper()
	res, err := audit.Run(context.Background(), audit.Options{
		Snapshot: demo.Estate(), SnapshotDir: "demo", FailOn: rules.High, Version: "test",
		Rules: rules.Options{Now: time.Date(2026, 12, 1, 22, 0, 0, 0, time.UTC)},
	})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := reports.Write(&buf, "json", res.Report); err != nil {
		t.Fatal(err)
	}
	name := filepath.Join(t.TempDir(), "report.json")
	if err := os.WriteFile(name, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return name, res.Report
}

// TestReportCommandReads11: `portcullis report --in` takes a report of
// schema 1.1 (the fixture as the last 1.x release wrote it) and renders
// every format as this release renders that report: the reports
// package's golden files, the JSON being the 2.0 form.
func TestReportCommandReads11(t *testing.T) {
	golden := map[string]string{
		"table": "report.txt", "json": "report.json", "csv": "report.csv", "markdown": "report.md",
		"html": "report.html", "sarif": "report.sarif", "ocsf": "report.ocsf.json", "asff": "report.asff.json",
	}
	in := filepath.Join("..", "..", "reports", "testdata", "report-1.1.json")
	for _, format := range reports.Formats() {
		t.Run(format, func(t *testing.T) {
			want, err := os.ReadFile(filepath.Join("..", "..", "reports", "testdata", golden[format]))
			if err != nil {
				t.Fatal(err)
			}
			out := filepath.Join(t.TempDir(), "report."+format)
			if code, _, stderr := runCLI(t, "report", "--in", in, "--format", format, "--output", out); code != exitOK {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			got, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("report --in a 1.1 report --format %s differs from reports/testdata/%s (%d vs %d bytes)", format, golden[format], len(got), len(want))
			}
		})
	}
}

// TestReportCommand: `portcullis report` renders the saved JSON of the demo
// audit in every format exactly as the audit renders it directly.
func TestReportCommand(t *testing.T) {
	in, rep := demoJSON(t)
	outDir := t.TempDir()
	for _, format := range reports.Formats() {
		t.Run(format, func(t *testing.T) {
			var want bytes.Buffer
			if err := reports.Write(&want, format, rep); err != nil {
				t.Fatal(err)
			}
			out := filepath.Join(outDir, "report."+format)
			if code, _, stderr := runCLI(t, "report", "--in", in, "--format", format, "--output", out); code != exitOK {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			got, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want.Bytes()) {
				t.Errorf("report --format %s differs from the direct render (%d vs %d bytes)", format, len(got), want.Len())
			}
			// To standard output, too (the table without colour: not a terminal).
			code, stdout, stderr := runCLI(t, "report", "--in", in, "--format", format)
			if code != exitOK || stdout != want.String() {
				t.Errorf("report --format %s to stdout: exit %d, same output %v; %s", format, code, stdout == want.String(), stderr)
			}
		})
	}
	// Atomic writes leave no temporary file behind.
	entries, _ := os.ReadDir(outDir)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			t.Errorf("temporary file %s left behind", e.Name())
		}
	}
	data, _ := os.ReadFile(in)
	if got, _ := os.ReadFile(filepath.Join(outDir, "report.json")); !bytes.Equal(got, data) {
		t.Error("report --format json does not reproduce the JSON it read")
	}
}

func TestReportCommandErrors(t *testing.T) {
	in, _ := demoJSON(t)
	data, _ := os.ReadFile(in)
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	v3 := write("v3.json", strings.Replace(string(data), `"schemaVersion": "`+reports.SchemaVersion+`"`, `"schemaVersion": "3.0"`, 1))
	broken := write("broken.json", string(data[:len(data)/3]))
	for _, c := range []struct {
		name     string
		args     []string
		want     int
		inStderr string
	}{
		{"help", []string{"report", "-h"}, exitOK, "without auditing again"},
		{"no --in", []string{"report", "--format", "html"}, exitError, "--in"},
		{"missing file", []string{"report", "--in", filepath.Join(dir, "nope.json")}, exitError, "nope.json"},
		{"other major version", []string{"report", "--in", v3}, exitError, "schemaVersion 3.0 is not supported: this release reads 1.x and 2.x"},
		{"malformed", []string{"report", "--in", broken}, exitError, "not JSON"},
		{"bad format", []string{"report", "--in", in, "--format", "xml"}, exitError, "--format"},
		{"extra argument", []string{"report", "--in", in, "more"}, exitError, "unexpected argument"},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, stdout, stderr := runCLI(t, c.args...)
			if code != c.want {
				t.Errorf("exit %d, want %d; stderr: %s", code, c.want, stderr)
			}
			if !strings.Contains(stdout+stderr, c.inStderr) {
				t.Errorf("output lacks %q: %s%s", c.inStderr, stdout, stderr)
			}
		})
	}
}

// uniquePrefix is the shortest prefix of id that no other exposure, and no
// finding of another exposure, starts with.
func uniquePrefix(t *testing.T, d *reports.Document, x *reports.Exposure) string {
	t.Helper()
	for n := 1; n <= len(x.ID); n++ {
		p, clash := x.ID[:n], false
		for _, y := range d.Exposures {
			clash = clash || (y != x && strings.HasPrefix(y.ID, p))
		}
		for _, f := range d.Findings {
			clash = clash || (f.Exposure != x && strings.HasPrefix(f.ID, p))
		}
		if !clash {
			return p
		}
	}
	t.Fatalf("exposure %s has no unique prefix", x.ID)
	return ""
}

func TestExplainByFindingAndPrefix(t *testing.T) {
	in, _ := demoJSON(t)
	d, err := readReport(in)
	if err != nil {
		t.Fatal(err)
	}
	f := d.Findings[0]
	x := f.Exposure

	code, out, stderr := runCLI(t, "explain", in, f.ID)
	if code != exitOK {
		t.Fatalf("explain by finding ID: exit %d: %s", code, stderr)
	}
	for _, want := range []string{"Finding " + f.ID + ": " + strings.ToUpper(f.Severity.String()) + " " + f.RuleID,
		"Exposure " + x.ID + " (", " *" + strings.ToUpper(f.Severity.String())} {
		if !strings.Contains(out, want) {
			t.Errorf("explain by finding ID lacks %q:\n%s", want, out)
		}
	}

	p := uniquePrefix(t, d, x)
	if len(p) == len(x.ID) {
		t.Fatalf("prefix %q is the whole ID: the test needs a shorter one", p)
	}
	code, out, stderr = runCLI(t, "explain", in, p)
	if code != exitOK || !strings.HasPrefix(out, "Exposure "+x.ID+" (") {
		t.Errorf("explain by prefix %q: exit %d\n%s%s", p, code, out, stderr)
	}
	code, out, stderr = runCLI(t, "explain", in, f.ID[:len(f.ID)-1])
	if code != exitOK || !strings.Contains(out, "Finding "+f.ID) {
		t.Errorf("explain by a finding-ID prefix: exit %d\n%s%s", code, out, stderr)
	}

	// A prefix two exposures share is ambiguous, and the error lists them.
	var a, b *reports.Exposure
	for i := range d.Exposures {
		for j := i + 1; j < len(d.Exposures) && a == nil; j++ {
			if d.Exposures[i].ID[:2] == d.Exposures[j].ID[:2] {
				a, b = d.Exposures[i], d.Exposures[j]
			}
		}
	}
	if a == nil {
		t.Fatal("no two demo exposures share a 2-character prefix")
	}
	code, _, stderr = runCLI(t, "explain", in, a.ID[:2])
	if code != exitError || !strings.Contains(stderr, "ambiguous") || !strings.Contains(stderr, a.ID) || !strings.Contains(stderr, b.ID) {
		t.Errorf("ambiguous prefix %q: exit %d, stderr:\n%s", a.ID[:2], code, stderr)
	}
	code, _, stderr = runCLI(t, "explain", in, "zz")
	if code != exitError || !strings.Contains(stderr, `no exposure or finding ID is or starts with "zz"`) {
		t.Errorf("unknown prefix: exit %d, stderr: %s", code, stderr)
	}
	code, _, stderr = runCLI(t, "explain", in, " ")
	if code != exitError || !strings.Contains(stderr, "empty") {
		t.Errorf("empty ID: exit %d, stderr: %s", code, stderr)
	}
}
