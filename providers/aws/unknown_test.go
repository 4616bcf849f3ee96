package aws_test

import (
	"fmt"
	"io/fs"
	"os"
	"path"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/portcullis-sec/portcullis/exposure"
	"github.com/portcullis-sec/portcullis/providers/aws"
)

// demoFS copies the demo estate's aws/ part into memory, so a test can
// break one file of it.
func demoFS(t *testing.T) fstest.MapFS {
	t.Helper()
	src := os.DirFS("../../demo/estate/aws")
	m := fstest.MapFS{}
	err := fs.WalkDir(src, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(src, p)
		m[p] = &fstest.MapFile{Data: b}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// exposureLine is an effective exposure as compared between runs.
func exposureLine(e *exposure.Exposure) string {
	s := fmt.Sprintf("%s %s %s %s %s", e.Target.ID, e.Endpoint, e.Protocol, e.Ports, strings.Join(exposure.Addrs(e.Sources), ","))
	if e.Backend != nil {
		s += fmt.Sprintf(" -> %s:%s", e.Backend.ID, e.Backend.Ports)
	}
	return s
}

// TestMissingOrBrokenRequiredFile is issue 11 item 6: a layer file that is
// missing or cannot be decoded never invents an exposure. Every exposure
// of the broken run that does not say it rests on missing data is one the
// intact run has too, the region is partial with an error naming the file
// (and the line, for a truncated one), and the analysis names what it
// could not analyse. Today's code read a missing security-groups file as
// "no security groups" and gave bastion-1 and grafana-1 all traffic from
// anyone.
func TestMissingOrBrokenRequiredFile(t *testing.T) {
	const dir = "111122223333/eu-west-1"
	clean := map[string]bool{}
	{
		inv, err := aws.Normalize(demoFS(t))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range exposure.Analyze(inv).Effective {
			clean[exposureLine(e)] = true
		}
	}
	files := []string{
		"ec2-describe-security-groups.json", "ec2-describe-network-acls.json", "ec2-describe-route-tables.json",
		"ec2-describe-subnets.json", "ec2-describe-network-interfaces.json",
		"elbv2-describe-load-balancers.json", "elbv2-describe-listeners.json", "elbv2-describe-target-groups.json",
		"elb-describe-load-balancers.json",
	}
	for _, file := range files {
		for _, how := range []string{"missing", "truncated"} {
			t.Run(how+" "+file, func(t *testing.T) {
				m := demoFS(t)
				name := path.Join(dir, file)
				if how == "missing" {
					delete(m, name)
				} else {
					b := m[name].Data
					m[name] = &fstest.MapFile{Data: b[:len(b)/2]}
				}
				inv, err := aws.Normalize(m)
				if err != nil {
					t.Fatal(err)
				}
				wantMsg := "required file not in snapshot"
				if how == "truncated" {
					wantMsg = "decode: line "
				}
				if !slices.ContainsFunc(inv.Errors, func(e exposure.Error) bool {
					return e.Resource == name && strings.Contains(e.Message, wantMsg) && e.Region == "eu-west-1" && e.Account == "111122223333"
				}) {
					t.Errorf("no error names %s with %q: %v", name, wantMsg, inv.Errors)
				}
				res := exposure.Analyze(inv)
				for _, e := range res.Effective {
					if len(e.Unknown()) > 0 {
						continue // says it rests on missing data
					}
					if l := exposureLine(e); !clean[l] {
						t.Errorf("invented exposure (not in the intact run, not marked unknown): %s", l)
					}
				}
				// The other account is untouched.
				n := 0
				for _, e := range res.Effective {
					if e.Account == "444455556666" {
						n++
					}
				}
				if n == 0 {
					t.Error("account 444455556666 lost its exposures")
				}
			})
		}
	}
}

// TestMissingSecurityGroupsNamesWhatWasLost pins the demo reproduction:
// without eu-west-1's security groups, bastion-1 and grafana-1 are not
// analysed (an error says so) instead of being open to everything.
func TestMissingSecurityGroupsNamesWhatWasLost(t *testing.T) {
	m := demoFS(t)
	delete(m, "111122223333/eu-west-1/ec2-describe-security-groups.json")
	inv, err := aws.Normalize(m)
	if err != nil {
		t.Fatal(err)
	}
	res := exposure.Analyze(inv)
	for _, e := range res.Effective {
		if e.Region == "eu-west-1" && e.Account == "111122223333" && e.Backend == nil {
			t.Errorf("exposure through unknown security groups: %s", exposureLine(e))
		}
	}
	lost := map[string]bool{}
	for _, e := range res.Errors {
		if strings.Contains(e.Message, "not analysed") && strings.Contains(e.Message, "ec2-describe-security-groups.json: not in snapshot") {
			lost[e.Resource] = true
		}
	}
	for _, tg := range inv.Targets {
		if tg.Region == "eu-west-1" && (tg.Name == "bastion-1" || tg.Name == "grafana-1") && !lost[tg.ID] {
			t.Errorf("%s (%s): no error says it was not analysed", tg.Name, tg.ID)
		}
	}
}
