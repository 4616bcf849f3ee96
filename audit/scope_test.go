package audit

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/portcullis-sec/portcullis/exposure"
	"github.com/portcullis-sec/portcullis/internal/faultproxy"
	"github.com/portcullis-sec/portcullis/reports"
	"github.com/portcullis-sec/portcullis/rules"
)

// demoSnapshot copies the demo estate into memory, keeping the providers
// named.
func demoSnapshot(t *testing.T, keep ...string) fstest.MapFS {
	t.Helper()
	src := os.DirFS("../demo/estate")
	m := fstest.MapFS{}
	if err := fs.WalkDir(src, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !slices.Contains(keep, strings.Split(p, "/")[0]) {
			return err
		}
		b, err := fs.ReadFile(src, p)
		m[p] = &fstest.MapFile{Data: b}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return m
}

func offline(fsys fs.FS) Options {
	return Options{Snapshot: fsys, SnapshotDir: "mem", FailOn: rules.High,
		Rules: rules.Options{Now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}}
}

// TestNothingAuditedPassesNothing is issue 11 item 7: a snapshot that
// holds nothing readable is "nothing could be audited" (exit 2), never a
// clean report with passing controls. Today's code reported 0 findings
// and cis-aws/pci-dss/cis-gcp/cis-azure controls as passed.
func TestNothingAuditedPassesNothing(t *testing.T) {
	dir := &fstest.MapFile{Mode: fs.ModeDir | 0o755}
	tests := map[string]fstest.MapFS{
		"empty aws/": {"aws": dir},
		"empty gcp/ and an Azure file holding null": {"gcp": dir,
			"azure/6f1c2e3a-5b7d-4c8e-9a0b-1d2e3f4a5b6c/network-security-groups.json": {Data: []byte("null")}},
		// The collector's view when STS answers and every region is denied.
		"every region denied": {
			"aws/111122223333/sts-get-caller-identity.json": {Data: []byte(`{"Account": "111122223333"}`)},
			"errors.json": {Data: []byte(`[{"provider":"aws","account":"111122223333","region":"eu-west-1","stage":"collect","resource":"ec2:DescribeVpcs","message":"collect region, skipped: AccessDenied"}]`)},
		},
	}
	for name, fsys := range tests {
		t.Run(name, func(t *testing.T) {
			res, err := Run(context.Background(), offline(fsys))
			if !errors.Is(err, ErrNothingAudited) {
				var ctl []string
				if res != nil {
					for _, c := range res.Report.Compliance {
						ctl = append(ctl, c.Framework+" "+c.Control+" "+string(c.Status))
					}
				}
				t.Fatalf("err = %v, want ErrNothingAudited; controls %v", err, ctl)
			}
		})
	}
}

// TestUnauditedProviderControlsNotApplicable: beside an audited provider,
// an empty one's controls are not applicable, never passed, and the report
// says the provider yielded nothing.
func TestUnauditedProviderControlsNotApplicable(t *testing.T) {
	fsys := demoSnapshot(t, "gcp")
	fsys["aws"] = &fstest.MapFile{Mode: fs.ModeDir | 0o755}
	res, err := Run(context.Background(), offline(fsys))
	if err != nil {
		t.Fatal(err)
	}
	rep := res.Report
	for _, c := range rep.Compliance {
		if (c.Framework == "cis-aws" || c.Framework == "cis-azure") && c.Status == rules.StatusPass {
			t.Errorf("%s %s passed with nothing of its provider audited", c.Framework, c.Control)
		}
	}
	if !slices.Equal(rep.Scope.Providers, []string{"gcp"}) {
		t.Errorf("scope providers %v, want [gcp]", rep.Scope.Providers)
	}
	if !rep.Partial || !slices.ContainsFunc(rep.Errors, func(e exposure.Error) bool {
		return e.Provider == "aws" && strings.Contains(e.Message, "nothing of aws")
	}) {
		t.Errorf("partial %v, errors %v: want one saying aws yielded nothing", rep.Partial, rep.Errors)
	}
}

// TestOfflineScopeFlags is issue 11 item 8: the scope flags filter a
// snapshot as they filter a live collection, and a named scope the
// snapshot lacks is an error in the report. Today's code ignored them.
func TestOfflineScopeFlags(t *testing.T) {
	units := func(rep *reports.Report) []string {
		var out []string
		for _, e := range rep.Exposures {
			u := e.Provider + " " + e.Account + " " + e.Region
			if e.Provider != "aws" {
				u = e.Provider + " " + e.Account
			}
			if !slices.Contains(out, u) {
				out = append(out, u)
			}
		}
		slices.Sort(out)
		return out
	}
	all := demoSnapshot(t, "aws", "gcp", "azure")
	tests := []struct {
		name    string
		set     func(o *Options)
		want    []string
		wantErr string
	}{
		{"aws region", func(o *Options) { o.Providers = []string{"aws"}; o.AWS.Regions = []string{"eu-west-1"} },
			[]string{"aws 111122223333 eu-west-1"}, ""},
		{"gcp project", func(o *Options) { o.Providers = []string{"gcp"}; o.GCP.Projects = []string{"shop-data"} },
			[]string{"gcp shop-data"}, ""},
		{"azure subscription, any case", func(o *Options) {
			o.Providers = []string{"azure"}
			o.Azure.Subscriptions = []string{"6F1C2E3A-5B7D-4C8E-9A0B-1D2E3F4A5B6C"}
		}, []string{"azure 6f1c2e3a-5b7d-4c8e-9a0b-1d2e3f4a5b6c"}, ""},
		{"a region the snapshot lacks beside one it has", func(o *Options) {
			o.Providers = []string{"aws"}
			o.AWS.Regions = []string{"us-east-1", "ap-south-1"}
		}, []string{"aws 111122223333 us-east-1", "aws 444455556666 us-east-1"}, "region ap-south-1 (--regions) is not in the snapshot"},
		{"a project the snapshot lacks", func(o *Options) { o.GCP.Projects = []string{"shop-prod", "nope"} },
			nil, "project nope (--gcp-projects) is not in the snapshot"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := offline(all)
			tt.set(&o)
			res, err := Run(context.Background(), o)
			if err != nil {
				t.Fatal(err)
			}
			if tt.want != nil {
				if got := units(res.Report); !slices.Equal(got, tt.want) {
					t.Errorf("audited %v, want %v", got, tt.want)
				}
			} else if got := units(res.Report); slices.Contains(got, "gcp shop-data") {
				t.Errorf("audited %v: shop-data is out of scope", got)
			}
			var msgs []string
			for _, e := range res.Report.Errors {
				msgs = append(msgs, e.Error())
			}
			joined := strings.Join(msgs, "\n")
			if tt.wantErr == "" && len(msgs) > 0 {
				t.Errorf("errors %q, want none", msgs)
			}
			if tt.wantErr != "" && (!strings.Contains(joined, tt.wantErr) || !res.Report.Partial) {
				t.Errorf("errors %q (partial %v), want one containing %q", msgs, res.Report.Partial, tt.wantErr)
			}
		})
	}
}

// TestUnknownMarkerInTheReport: an exposure resting on missing data says
// so in the JSON report (evidence "unknown"), and the report still matches
// its schema. The demo's ssh-gateway NLB loses its target group's
// attributes: its SSH path is kept and marked, not hidden.
func TestUnknownMarkerInTheReport(t *testing.T) {
	fsys := demoSnapshot(t, "aws")
	name := "aws/111122223333/eu-west-1/elbv2-describe-target-group-attributes/targetgroup_ssh-gateway-22_a5835044d67494a5.json"
	if fsys[name] == nil {
		t.Fatalf("demo lacks %s", name)
	}
	delete(fsys, name)
	res, err := Run(context.Background(), offline(fsys))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := reports.Write(&buf, "json", res.Report); err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	schema, err := jsonschema.UnmarshalJSON(bytes.NewReader(reports.Schema()))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.AddResource("report.schema.json", schema); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile("report.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if err := sch.Validate(doc); err != nil {
		t.Fatalf("report does not match the schema: %v", err)
	}
	rep, err := reports.Read(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	marked := 0
	for _, e := range rep.Exposures {
		for _, ev := range e.Evidence {
			if strings.Contains(ev.Unknown, "client IP preservation unknown") {
				marked++
			}
		}
	}
	if marked == 0 {
		t.Errorf("no exposure says it rests on the lost attributes:\n%s", buf.String())
	}
}

// TestEveryRegionDenied is issue 11 item 7 live: STS answers, every
// region's first call is denied; nothing was audited (exit 2), where
// today's code wrote a report with 0 exposures and exit 3.
func TestEveryRegionDenied(t *testing.T) {
	p, err := faultproxy.New(motoURL, faultproxy.Faults{}, faultproxy.Deny{Action: "DescribeVpcs"})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	o := Options{Providers: []string{"aws"}, Rules: rules.Options{Now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}}
	o.AWS.Endpoint, o.AWS.Regions = p.URL, []string{"us-east-1", "eu-west-1"}
	res, err := Run(context.Background(), o)
	if !errors.Is(err, ErrNothingAudited) {
		t.Fatalf("err = %v (report %v), want ErrNothingAudited", err, res != nil)
	}
	if !strings.Contains(err.Error(), "DescribeVpcs") {
		t.Errorf("error %q does not name the denied call", err)
	}
	if st := p.Stats(); st.Denied < 2 {
		t.Errorf("proxy denied %d calls, want one per region", st.Denied)
	}
}
