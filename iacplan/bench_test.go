package iacplan_test

import (
	"context"
	"testing"

	"github.com/portcullis-sec/portcullis/audit"
	"github.com/portcullis-sec/portcullis/iacplan"
	"github.com/portcullis-sec/portcullis/reports"
	"github.com/portcullis-sec/portcullis/rules"
)

// BenchmarkApply is the overlay alone: copy the demo snapshot into
// memory and apply a plan.
func BenchmarkApply(b *testing.B) {
	t := &testing.T{}
	base, p := demo(t), terraform(t, "unknown.tfplan.json")
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := iacplan.Apply(base, p, iacplan.Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPlanDemo is what `portcullis plan` does on the demo estate:
// apply, audit before and after, compare.
func BenchmarkPlanDemo(b *testing.B) {
	t := &testing.T{}
	base, p := demo(t), terraform(t, "route-public.tfplan.json")
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ov, err := iacplan.Apply(base, p, iacplan.Options{})
		if err != nil {
			b.Fatal(err)
		}
		o := audit.Options{Rules: rules.Options{Now: now}, Snapshot: ov.Base}
		before, err := audit.Run(ctx, o)
		if err != nil {
			b.Fatal(err)
		}
		o.Snapshot = ov.Planned
		after, err := audit.Run(ctx, o)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := iacplan.Compare(reports.NewDocument(before.Report), reports.NewDocument(after.Report), ov, rules.High, now); err != nil {
			b.Fatal(err)
		}
	}
}
