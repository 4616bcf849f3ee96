package audit_test

import (
	"bytes"
	"encoding/json"
	"io/fs"
	"iter"
	"os"
	"path"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/portcullis-sec/portcullis/audit"
	"github.com/portcullis-sec/portcullis/audit/unitresult"
	"github.com/portcullis-sec/portcullis/demo"
	"github.com/portcullis-sec/portcullis/exposure"
	"github.com/portcullis-sec/portcullis/providers"
	"github.com/portcullis-sec/portcullis/reports"
	"github.com/portcullis-sec/portcullis/rules"
)

// TestMergeEqualsRun: the report merged from the unit results of every
// account-region, project and subscription of an estate, each analysed on
// its own snapshot and passed through the unit-result encoding, is the
// whole-estate audit's report byte for byte (JSON: exposures in order,
// findings, compliance, misconfigurations, scope and errors), with probe
// observations and custom rules and exceptions applied at the merge. The
// estates are the demo (three clouds, several AWS accounts and regions,
// load balancers) with a recorded collection failure, and every
// conformance situation.
func TestMergeEqualsRun(t *testing.T) {
	type estate struct {
		name        string
		fsys        fs.FS
		custom, exc string
	}
	estates := []estate{{name: "demo", fsys: withCollectError(t, demo.Estate()),
		custom: "../examples/custom-rules.yaml", exc: "../examples/exceptions.yaml"}}
	situations, err := os.ReadDir("../providers/conformance/testdata")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range situations {
		if s.IsDir() {
			estates = append(estates, estate{name: s.Name(), fsys: os.DirFS(path.Join("../providers/conformance/testdata", s.Name()))})
		}
	}
	if len(estates) < 8 {
		t.Fatalf("only %d estates: the conformance situations moved?", len(estates))
	}
	now := time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC)
	for _, e := range estates {
		for _, fw := range []string{"", rules.FrameworkCISAWS} {
			t.Run(e.name+"/framework="+fw, func(t *testing.T) {
				o := audit.Options{SnapshotDir: "s3://runs/snapshot", FailOn: rules.High, Version: "test",
					Rules: rules.Options{Now: now, Framework: fw, CustomRulesFile: e.custom, ExceptionsFile: e.exc}}
				whole := o
				whole.Snapshot = e.fsys
				first, err := audit.Run(t.Context(), whole)
				if err != nil {
					t.Fatal(err)
				}
				// Observations of the whole estate's effective exposures,
				// open and closed, go into both audits.
				o.Observations = observationsFor(first.Report.Exposures)
				whole.Observations = o.Observations
				want, err := audit.Run(t.Context(), whole)
				if err != nil {
					t.Fatal(err)
				}
				units := unitResults(t, e.fsys)
				if len(units) < 3 {
					t.Fatalf("%d units: the test needs several", len(units))
				}
				for _, order := range []string{"sorted", "reversed"} {
					list := slices.Clone(units)
					if order == "reversed" {
						slices.Reverse(list)
					}
					got, err := audit.Merge(seq(list), o)
					if err != nil {
						t.Fatal(err)
					}
					w, g := jsonReport(t, want.Report), jsonReport(t, got.Report)
					if !bytes.Equal(w, g) {
						t.Errorf("%s units: merged report differs from the whole-estate report:\n%s", order, firstDiff(w, g))
					}
				}
				if e.name == "demo" && fw == "" && (len(want.Report.Findings) == 0 || len(want.Report.Misconfigurations) == 0 ||
					len(want.Report.Errors) == 0 || len(o.Observations) == 0) {
					t.Fatalf("the demo must exercise findings, misconfigurations, errors and observations: %d %d %d %d",
						len(want.Report.Findings), len(want.Report.Misconfigurations), len(want.Report.Errors), len(o.Observations))
				}
			})
		}
	}
}

// TestMergeRefuses: a merge of nothing readable, and a unit source that
// fails, are errors, never an empty report.
func TestMergeRefuses(t *testing.T) {
	empty := &unitresult.Result{Unit: exposure.Scope{Provider: "aws", Account: "111122223333", Region: "eu-west-1"},
		CollectErrors: []exposure.Error{{Stage: "collect", Message: "role cannot be assumed"}}}
	if _, err := audit.Merge(seq([]*unitresult.Result{empty}), audit.Options{}); err == nil || !strings.Contains(err.Error(), "role cannot be assumed") {
		t.Errorf("merge of a failed unit: %v, want ErrNothingAudited naming the failure", err)
	}
	failing := func(yield func(*unitresult.Result, error) bool) { yield(nil, fs.ErrPermission) }
	if _, err := audit.Merge(failing, audit.Options{}); err == nil {
		t.Error("merge of a failing source: no error")
	}
}

func seq(list []*unitresult.Result) iter.Seq2[*unitresult.Result, error] {
	return func(yield func(*unitresult.Result, error) bool) {
		for _, u := range list {
			if !yield(u, nil) {
				return
			}
		}
	}
}

// unitResults splits a snapshot into its units as the collect function
// writes them (the unit's directory, its account's own files, its share of
// errors.json), analyses each and passes it through the encoding.
func unitResults(t *testing.T, fsys fs.FS) []*unitresult.Result {
	t.Helper()
	errs, err := providers.ReadErrors(fsys)
	if err != nil {
		t.Fatal(err)
	}
	units := audit.Units(fsys, audit.Providers())
	var out []*unitresult.Result
	for i, u := range units {
		sub := fstest.MapFS{}
		dir := path.Join(u.Provider, u.Account, u.Region)
		err := fs.WalkDir(fsys, u.Provider+"/"+u.Account, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			if strings.HasPrefix(p, dir+"/") || (u.Provider == "aws" && path.Dir(p) == path.Join(u.Provider, u.Account)) {
				b, err := fs.ReadFile(fsys, p)
				if err != nil {
					return err
				}
				sub[p] = &fstest.MapFile{Data: b}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		var own []exposure.Error
		for _, e := range errs {
			if e.Provider == u.Provider && e.Account == u.Account && (e.Region == u.Region || (e.Region == "" && i == 0)) {
				own = append(own, e)
			}
		}
		if len(own) > 0 {
			b, err := json.Marshal(own)
			if err != nil {
				t.Fatal(err)
			}
			sub[providers.ErrorsFile] = &fstest.MapFile{Data: b}
		}
		r, err := audit.AnalyzeUnit(sub, u, nil)
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if err := unitresult.Encode(&buf, r); err != nil {
			t.Fatal(err)
		}
		back, err := unitresult.Decode(&buf)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, back)
	}
	return out
}

// withCollectError is the snapshot with a recorded collection failure of
// one of its AWS regions.
func withCollectError(t *testing.T, fsys fs.FS) fs.FS {
	t.Helper()
	m := fstest.MapFS{}
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(fsys, p)
		m[p] = &fstest.MapFile{Data: b}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal([]exposure.Error{{Scope: exposure.Scope{Provider: "aws", Account: "111122223333", Region: "eu-west-1"},
		Stage: "collect", Resource: "ec2:DescribeManagedPrefixLists", Message: "access denied"}})
	if err != nil {
		t.Fatal(err)
	}
	m[providers.ErrorsFile] = &fstest.MapFile{Data: b}
	return m
}

// observationsFor makes one observation per effective exposure with an
// address: open on every other one, closed on the rest.
func observationsFor(exps []*exposure.Exposure) []exposure.Observation {
	var out []exposure.Observation
	for i, x := range exps {
		if x.Level != exposure.Effective || !x.Endpoint.IP.IsValid() || (x.Protocol != exposure.ProtocolTCP && x.Protocol != exposure.ProtocolUDP) {
			continue
		}
		state := exposure.ProbeClosed
		if i%2 == 0 {
			state = exposure.ProbeOpen
		}
		out = append(out, exposure.Observation{Endpoint: x.Endpoint.IP.String(), Protocol: x.Protocol, Port: x.Ports.From, State: state})
	}
	return out
}

func jsonReport(t *testing.T, rep *reports.Report) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := reports.Write(&b, "json", rep); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// firstDiff shows the first differing line of two texts with context.
func firstDiff(a, b []byte) string {
	la, lb := strings.Split(string(a), "\n"), strings.Split(string(b), "\n")
	for i := 0; i < len(la) && i < len(lb); i++ {
		if la[i] != lb[i] {
			lo := max(0, i-3)
			return "whole:\n" + strings.Join(la[lo:min(len(la), i+3)], "\n") + "\nmerged:\n" + strings.Join(lb[lo:min(len(lb), i+3)], "\n")
		}
	}
	return "one is a prefix of the other"
}
