package audit_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/portcullis-sec/portcullis/audit"
	"github.com/portcullis-sec/portcullis/demo"
	"github.com/portcullis-sec/portcullis/reports"
	"github.com/portcullis-sec/portcullis/rules"
)

// TestDemoRoundTrip audits the demo estate offline, with each compliance
// framework's view, and checks that every format rendered from the JSON
// report is the direct render, byte for byte.
func TestDemoRoundTrip(t *testing.T) {
	for _, fw := range append([]string{""}, rules.Frameworks()...) {
		t.Run("framework="+fw, func(t *testing.T) {
			res, err := audit.Run(context.Background(), audit.Options{
				Snapshot: demo.Estate(), SnapshotDir: "demo",
				// The example custom rules and exceptions add custom
				// findings, suppressions and exception statuses.
				Rules: rules.Options{Framework: fw, Now: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC),
					CustomRulesFile: "../examples/custom-rules.yaml", ExceptionsFile: "../examples/exceptions.yaml"},
				FailOn: rules.High, Version: "test",
			})
			if err != nil {
				t.Fatal(err)
			}
			var js bytes.Buffer
			if err := reports.Write(&js, "json", res.Report); err != nil {
				t.Fatal(err)
			}
			d, err := reports.Read(&js)
			if err != nil {
				t.Fatalf("Read: %v", err)
			}
			if fw == "" && (len(d.Exceptions) == 0 || len(d.Compliance) == 0 || len(d.Misconfigurations) == 0) {
				t.Fatalf("demo report lacks exceptions, compliance or misconfigurations: %+v", d.Summary)
			}
			if len(d.Exposures) == 0 || len(d.Findings) == 0 {
				t.Fatalf("demo report has %d exposures and %d findings; the test needs both", len(d.Exposures), len(d.Findings))
			}
			for _, format := range reports.Formats() {
				var direct, again bytes.Buffer
				if err := reports.Write(&direct, format, res.Report); err != nil {
					t.Fatal(err)
				}
				if err := reports.Render(&again, format, d); err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(direct.Bytes(), again.Bytes()) {
					t.Errorf("%s from the JSON differs from the direct render (%d vs %d bytes)", format, again.Len(), direct.Len())
				}
			}
		})
	}
}
