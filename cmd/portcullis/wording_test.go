package main

import (
	"fmt"
	"strings"
	"testing"

	"github.com/portcullis-sec/portcullis/exposure"
	"github.com/portcullis-sec/portcullis/reports"
)

func TestRulesShowAndMistakes(t *testing.T) {
	for _, c := range []struct {
		args     []string
		code     int
		out, err string
	}{
		{[]string{"show", "port-ssh"}, exitOK, "PORT-SSH — SSH reachable from the internet", ""},
		{[]string{"show", "Port-Rdp", "--format", "json"}, exitOK, `"PORT-RDP"`, ""},
		{[]string{"show", "ssh"}, exitError, "", `no rule "ssh"; did you mean PORT-SSH`},
		{[]string{"show", "nope"}, exitError, "", `no rule "nope" (portcullis rules list`},
		{[]string{"bogus"}, exitError, "", `rules: unknown subcommand "bogus"`},
		{[]string{"show"}, exitError, "", "rules show takes one rule ID"},
		{[]string{"list", "extra"}, exitError, "", `rules list takes no argument (got "extra")`},
	} {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			code, out, stderr := runCLI(t, append([]string{"rules"}, c.args...)...)
			if code != c.code || !strings.Contains(out, c.out) || !strings.Contains(stderr, c.err) {
				t.Errorf("exit %d, stdout %.80q, stderr %q; want exit %d, %q, %q", code, out, stderr, c.code, c.out, c.err)
			}
			if c.code != exitOK && strings.Contains(stderr, "Usage:") {
				t.Errorf("a mistake answered with the usage text instead of naming it: %q", stderr)
			}
		})
	}
}

func TestSourcesPhrase(t *testing.T) {
	many := make([]string, 8)
	for i := range many {
		many[i] = fmt.Sprintf("198.51.100.%d/32", i)
	}
	for _, c := range []struct {
		label   string
		breadth exposure.Breadth
		sources []string
		want    string
	}{
		{"anyone (IPv4)", exposure.BreadthAnyone, []string{"0.0.0.0/0"}, "anyone (IPv4): 0.0.0.0/0"},
		{"anyone", exposure.BreadthAnyone, []string{"0.0.0.0/0", "::/0"}, "anyone: 0.0.0.0/0, ::/0"},
		{"anyone (IPv6)", exposure.BreadthAnyone, append([]string{"2000::/16"}, many...), "anyone (IPv6): 9 ranges that cover the public internet"},
		{"198.51.100.0/24", exposure.BreadthNarrow, []string{"198.51.100.0/24"}, "198.51.100.0/24"},
		{"3 ranges", exposure.BreadthNarrow, many[:3], "3 ranges: 198.51.100.0/32, 198.51.100.1/32, 198.51.100.2/32"},
		{"8 ranges", exposure.BreadthNarrow, many, "8 ranges: 198.51.100.0/32, 198.51.100.1/32, 198.51.100.2/32, 198.51.100.3/32, 198.51.100.4/32 and 3 more"},
		{"none", exposure.BreadthNarrow, nil, "none"},
	} {
		t.Run(c.want, func(t *testing.T) {
			x := &reports.Exposure{Sources: c.sources, SourceBreadth: c.breadth, SourcesLabel: c.label}
			if got := sourcesPhrase(x); got != c.want {
				t.Errorf("sourcesPhrase = %q, want %q", got, c.want)
			}
			if strings.Contains(sourcesPhrase(x), "prefixes)") {
				t.Error("the old wording")
			}
		})
	}
}

// TestVerboseLogsStages: audit -v on a snapshot logs each stage.
func TestVerboseLogsStages(t *testing.T) {
	_, _, stderr := runCLI(t, "audit", "--snapshot", "../../demo/estate", "-v", "--format", "json")
	for _, stage := range []string{"read", "normalize", "analyze", "probe", "evaluate", "write"} {
		if !strings.Contains(stderr, "stage="+stage+" ") {
			t.Errorf("audit -v logs no %s stage:\n%s", stage, stderr)
		}
	}
	if _, _, stderr := runCLI(t, "audit", "--snapshot", "../../demo/estate", "--format", "json"); strings.Contains(stderr, "stage=") {
		t.Errorf("stages logged without -v:\n%s", stderr)
	}
}
