package iacplan_test

import (
	"bytes"
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/portcullis-sec/portcullis/audit"
	"github.com/portcullis-sec/portcullis/exposure"
	"github.com/portcullis-sec/portcullis/iacplan"
	"github.com/portcullis-sec/portcullis/reports"
	"github.com/portcullis-sec/portcullis/rules"
)

var now = time.Date(2026, 12, 1, 22, 0, 0, 0, time.UTC)

// demo is the demo estate, the base snapshot of most tests.
func demo(t *testing.T) fs.FS {
	t.Helper()
	return os.DirFS(filepath.Join("..", "testdata", "demo"))
}

// check applies a plan onto base, audits both snapshots with the real
// audit and compares them, as `portcullis plan` does.
func check(t *testing.T, base fs.FS, p *iacplan.Plan, o iacplan.Options) (*iacplan.Result, *iacplan.Overlay) {
	t.Helper()
	ov, err := iacplan.Apply(base, p, o)
	if err != nil {
		t.Fatalf("apply: %v", err)
	}
	ao := audit.Options{Rules: rules.Options{Now: now}, FailOn: rules.High}
	ao.Snapshot = ov.Base
	before, err := audit.Run(context.Background(), ao)
	if err != nil {
		t.Fatalf("audit base: %v", err)
	}
	ao.Snapshot = ov.Planned
	after, err := audit.Run(context.Background(), ao)
	if err != nil {
		t.Fatalf("audit planned: %v", err)
	}
	res, err := iacplan.Compare(reports.NewDocument(before.Report), reports.NewDocument(after.Report), ov, rules.High, now)
	if err != nil {
		t.Fatalf("compare: %v", err)
	}
	res.Source = p.Source
	return res, ov
}

func terraform(t *testing.T, name string) *iacplan.Plan {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	p, err := iacplan.ParseTerraform(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("parse %s: %v", name, err)
	}
	return p
}

func dump(t *testing.T, r *iacplan.Result) string {
	t.Helper()
	var b strings.Builder
	if err := iacplan.Render(&b, "table", r); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// items returns the items of one kind and level.
func items(r *iacplan.Result, kind string, level exposure.Level) []iacplan.Item {
	var out []iacplan.Item
	for _, it := range r.Items {
		if it.Kind == kind && it.Key.Level == level {
			out = append(out, it)
		}
	}
	return out
}

func TestPrivateSubnetRuleIsLatentOnly(t *testing.T) {
	res, _ := check(t, demo(t), terraform(t, "private-ssh.tfplan.json"), iacplan.Options{})
	t.Log(dump(t, res))
}

func TestDev(t *testing.T) {
	for _, f := range []string{"route-public.tfplan.json", "narrow.tfplan.json", "delete-rule.tfplan.json", "unknown.tfplan.json"} {
		res, _ := check(t, demo(t), terraform(t, f), iacplan.Options{})
		t.Log(f + "\n" + dump(t, res))
	}
}
