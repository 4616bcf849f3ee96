package main

import (
	"flag"
	"io"
	"strings"
	"testing"

	"github.com/portcullis-sec/portcullis/audit"
)

// TestProviderFlagFollowsDriverTable: --provider accepts exactly the names
// of audit's table, its help lists them, and the error for another name
// lists them too.
func TestProviderFlagFollowsDriverTable(t *testing.T) {
	parse := func(t *testing.T, args ...string) (*auditFlags, *flag.FlagSet) {
		t.Helper()
		fs := flag.NewFlagSet("audit", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		var f auditFlags
		f.register(fs, false)
		var mf monitorFlags
		mf.register(fs)
		if err := fs.Parse(args); err != nil {
			t.Fatal(err)
		}
		return &f, fs
	}
	e := &env{stdout: io.Discard, stderr: io.Discard, getenv: func(string) string { return "" }}
	names := audit.Providers()
	listed := strings.Join(names, ", ")

	_, fs := parse(t)
	if usage := fs.Lookup("provider").Usage; !strings.Contains(usage, ": "+listed+" ") {
		t.Errorf("--provider help %q does not list the table (%s)", usage, listed)
	}
	for _, n := range append(names, strings.Join(names, ",")) {
		f, _ := parse(t, "--provider", n)
		if _, _, err := f.options(e); err != nil {
			t.Errorf("--provider %s: %v", n, err)
		}
	}
	for _, bad := range []string{"bogus", "AWS", "aws,bogus"} {
		f, _ := parse(t, "--provider", bad)
		_, _, err := f.options(e)
		if err == nil {
			t.Errorf("--provider %s accepted", bad)
			continue
		}
		if msg := err.Error(); !strings.Contains(msg, "--provider") || !strings.Contains(msg, "(want one of "+listed+")") {
			t.Errorf("--provider %s: %q, want it to name the flag and list %s", bad, msg, listed)
		}
	}
}
