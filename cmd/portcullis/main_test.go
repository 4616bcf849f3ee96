package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/portcullis-sec/portcullis/reports"
)

// runCLI runs the CLI in-process, as main does, and returns its exit code
// and output.
func runCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	e := &env{stdout: &out, stderr: &errOut, getenv: func(string) string { return "" }}
	code := run(context.Background(), args, e)
	return code, out.String(), errOut.String()
}

// copyDir copies a fixture snapshot so a test can add files to it.
func copyDir(t *testing.T, src string) string {
	t.Helper()
	dst := t.TempDir()
	err := filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

func validateReport(t *testing.T, data []byte) map[string]any {
	t.Helper()
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
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("report is not JSON: %v", err)
	}
	if err := sch.Validate(doc); err != nil {
		t.Fatalf("report does not match the schema: %v", err)
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestExitCodes(t *testing.T) {
	partial := copyDir(t, "testdata/clean")
	if err := os.WriteFile(filepath.Join(partial, "errors.json"),
		[]byte(`[{"provider":"aws","account":"111122223333","region":"ap-south-1","stage":"collect","message":"AccessDenied"}]`), 0o644); err != nil {
		t.Fatal(err)
	}
	malformed := copyDir(t, "testdata/clean")
	if err := os.WriteFile(filepath.Join(malformed, "aws/111122223333/eu-west-1/ec2-describe-network-acls.json"), []byte(`{"NetworkAcls": [`), 0o644); err != nil {
		t.Fatal(err)
	}
	emptyAWS := t.TempDir()
	if err := os.MkdirAll(filepath.Join(emptyAWS, "aws"), 0o755); err != nil {
		t.Fatal(err)
	}
	badRules := filepath.Join(t.TempDir(), "rules.yaml")
	if err := os.WriteFile(badRules, []byte("rules:\n  - id: CUSTOM-X\n    title: x\n    severity: high\n    expression: exposure.nope == 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		args     []string
		want     int
		inStderr string
	}{
		{"help", []string{"--help"}, exitOK, ""},
		{"no command", nil, exitError, "Usage"},
		{"unknown command", []string{"frobnicate"}, exitError, "unknown command"},
		{"clean estate", []string{"audit", "--snapshot", "testdata/clean"}, exitOK, "probing is off"},
		{"findings at or above fail-on", []string{"audit", "--snapshot", "../../demo/estate", "--no-probe"}, exitFindings, ""},
		{"GCP without probes has nothing critical", []string{"audit", "--snapshot", "../../demo/estate", "--no-probe", "--provider", "gcp", "--fail-on", "critical"}, exitOK, ""},
		{"partial scope", []string{"audit", "--snapshot", partial}, exitPartial, ""},
		{"malformed snapshot file is partial, not fatal", []string{"audit", "--snapshot", malformed}, exitPartial, ""},
		{"missing snapshot", []string{"audit", "--snapshot", "testdata/nope"}, exitError, "snapshot"},
		{"empty aws/ audits nothing", []string{"audit", "--snapshot", emptyAWS}, exitError, "nothing could be audited"},
		{"a region the snapshot lacks audits nothing", []string{"audit", "--snapshot", "testdata/clean", "--regions", "ap-south-1"}, exitError, "region ap-south-1 (--regions) is not in the snapshot"},
		{"bad severity", []string{"audit", "--fail-on", "severe"}, exitError, "--fail-on"},
		{"bad format", []string{"audit", "--format", "xml", "--snapshot", "testdata/clean"}, exitError, "--format"},
		{"bad provider", []string{"audit", "--provider", "oracle", "--snapshot", "testdata/clean"}, exitError, "unknown provider"},
		{"bad framework", []string{"audit", "--framework", "iso", "--snapshot", "testdata/clean"}, exitError, "--framework"},
		{"probe flags contradict", []string{"audit", "--probe", "--no-probe", "--snapshot", "testdata/clean"}, exitError, "contradict"},
		{"custom rule that does not type-check", []string{"audit", "--rules", badRules, "--snapshot", "testdata/clean"}, exitError, "rules.yaml"},
		{"bad flag", []string{"audit", "--nope"}, exitError, "flag provided but not defined"},
		{"version", []string{"version"}, exitOK, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := runCLI(t, tc.args...)
			if code != tc.want {
				t.Errorf("exit code %d, want %d; stderr:\n%s", code, tc.want, stderr)
			}
			if !strings.Contains(stderr, tc.inStderr) {
				t.Errorf("stderr does not mention %q:\n%s", tc.inStderr, stderr)
			}
		})
	}
}

func TestPartialReportNamesTheFailure(t *testing.T) {
	malformed := copyDir(t, "testdata/clean")
	name := "aws/111122223333/eu-west-1/ec2-describe-network-acls.json"
	if err := os.WriteFile(filepath.Join(malformed, name), []byte(`{"NetworkAcls": [`), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, _ := runCLI(t, "audit", "--snapshot", malformed, "--format", "json")
	if code != exitPartial {
		t.Fatalf("exit %d, want %d", code, exitPartial)
	}
	m := validateReport(t, []byte(out))
	errs, _ := m["errors"].([]any)
	found := false
	for _, e := range errs {
		if strings.Contains(strings.ReplaceAll(toJSON(e), `\/`, "/"), "ec2-describe-network-acls.json") {
			found = true
		}
	}
	if !found {
		t.Errorf("errors %s do not name the malformed file", toJSON(errs))
	}
	if sum, _ := m["summary"].(map[string]any); sum["partial"] != true {
		t.Errorf("summary.partial = %v, want true", sum["partial"])
	}
}

func toJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// The demo estate's JSON report validates against the schema and holds the
// exposures the estate was built to show, through the whole CLI.
func TestAuditJSONOnDemoEstate(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "report.json")
	code, stdout, stderr := runCLI(t, "audit", "--snapshot", "../../demo/estate", "--no-probe", "--format", "json", "--output", out)
	if code != exitFindings {
		t.Fatalf("exit %d, want %d (findings); stderr:\n%s", code, exitFindings, stderr)
	}
	if stdout != "" {
		t.Errorf("--output given, but stdout has %d bytes", len(stdout))
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	m := validateReport(t, data)
	type key struct{ address, proto, level string }
	seen := map[key][]float64{}
	for _, x := range m["exposures"].([]any) {
		e := x.(map[string]any)
		addr, _ := e["address"].(string)
		k := key{addr, e["protocol"].(string), e["level"].(string)}
		seen[k] = append(seen[k], e["fromPort"].(float64))
	}
	// One situation per cloud, each only right if the path was followed.
	want := []struct {
		k    key
		port float64
	}{
		{key{"203.0.113.21", "tcp", "effective"}, 22},     // GCP bastion: VPC rule by tag
		{key{"203.0.113.150", "tcp", "effective"}, 2222},  // Azure Firewall DNAT 2222 → 22
		{key{"2001:db8:100::30", "udp", "effective"}, 53}, // Azure dual-stack DNS over IPv6
		{key{"203.0.113.120", "tcp", "effective"}, 50022}, // Azure inbound NAT 50022 → 22
	}
	for _, w := range want {
		found := false
		for _, p := range seen[w.k] {
			if p == w.port {
				found = true
			}
		}
		if !found {
			t.Errorf("no %s exposure on %s %s/%v; have %v", w.k.level, w.k.address, w.k.proto, w.port, seen[w.k])
		}
	}
	if len(m["findings"].([]any)) == 0 || len(m["compliance"].([]any)) == 0 {
		t.Error("no findings or no compliance results")
	}
}

// The demo probes loopback stand-ins and shows every outcome.
func TestDemoProbes(t *testing.T) {
	dir := t.TempDir()
	jsonOut := filepath.Join(dir, "demo.json")
	code, stdout, stderr := runCLI(t, "demo", "--json", jsonOut, "--html", filepath.Join(dir, "demo.html"))
	if code != exitOK {
		t.Fatalf("demo exit %d; stderr:\n%s", code, stderr)
	}
	if !strings.Contains(stdout, "FINDINGS") {
		t.Errorf("demo printed no findings table:\n%s", stdout)
	}
	data, err := os.ReadFile(jsonOut)
	if err != nil {
		t.Fatal(err)
	}
	m := validateReport(t, data)
	states := map[string]int{}
	services := map[string]bool{}
	for _, x := range m["exposures"].([]any) {
		p, ok := x.(map[string]any)["probe"].(map[string]any)
		if !ok {
			continue
		}
		states[p["state"].(string)]++
		if s, ok := p["service"].(string); ok {
			services[s] = true
		}
	}
	for _, s := range []string{"open", "closed", "filtered"} {
		if states[s] == 0 {
			t.Errorf("no %s probe outcome in the demo (states %v)", s, states)
		}
	}
	for _, s := range []string{"ssh", "http", "dns"} {
		if !services[s] {
			t.Errorf("no %s fingerprint in the demo (services %v)", s, services)
		}
	}
	html, err := os.ReadFile(filepath.Join(dir, "demo.html"))
	if err != nil || !bytes.Contains(html, []byte("<html")) {
		t.Errorf("demo HTML report missing or not HTML: %v", err)
	}
}

func TestRulesCommand(t *testing.T) {
	code, out, _ := runCLI(t, "rules", "list")
	if code != exitOK || !strings.Contains(out, "PORT-SSH") {
		t.Errorf("rules list: exit %d, output lacks PORT-SSH:\n%s", code, out)
	}
	code, out, _ = runCLI(t, "rules", "show", "PORT-SSH", "--format", "json")
	if code != exitOK || !json.Valid([]byte(out)) {
		t.Errorf("rules show --format json: exit %d, valid JSON %v", code, json.Valid([]byte(out)))
	}
	if code, _, _ := runCLI(t, "rules", "show", "NOPE"); code != exitError {
		t.Errorf("rules show NOPE: exit %d, want %d", code, exitError)
	}
}

func TestExplain(t *testing.T) {
	out := filepath.Join(t.TempDir(), "r.json")
	if code, _, stderr := runCLI(t, "audit", "--snapshot", "../../demo/estate", "--no-probe", "--provider", "azure", "--format", "json", "--output", out); code == exitError {
		t.Fatal(stderr)
	}
	r, err := readReport(out)
	if err != nil {
		t.Fatal(err)
	}
	var id string
	for _, x := range r.Exposures {
		if x.Backend != nil && x.FromPort == 50022 {
			id = x.ID
		}
	}
	if id == "" {
		t.Fatal("no exposure on port 50022 in the Azure demo")
	}
	code, text, stderr := runCLI(t, "explain", out, id)
	if code != exitOK {
		t.Fatalf("explain exit %d: %s", code, stderr)
	}
	for _, want := range []string{"forwarded by", "port 22", "Path (every layer that let it in)", "network-security-group"} {
		if !strings.Contains(text, want) {
			t.Errorf("explain output lacks %q:\n%s", want, text)
		}
	}
	if code, _, _ := runCLI(t, "explain", out, "0000000000000000"); code != exitError {
		t.Errorf("explain of an unknown ID: exit %d, want %d", code, exitError)
	}
}

// An audit with a custom rules file and an exceptions file behaves as
// docs/rules.md says: the custom rule reports, an active exception
// suppresses, an expired one resurfaces its finding and is listed, one that
// matches nothing is listed as stale.
func TestAuditCustomRulesAndExceptions(t *testing.T) {
	dir := t.TempDir()
	rulesFile := filepath.Join(dir, "rules.yaml")
	if err := os.WriteFile(rulesFile, []byte(`rules:
  - id: ORG-DEV-PORTS
    title: Development ports open to anyone
    severity: high
    condition: >-
      exposure.protocol == "tcp" && exposure.overlaps(8000, 8999) &&
      exposure.breadth == "anyone" && exposure.tags.?public.orValue("false") != "true"
    remediation: Close the development port.
`), 0o644); err != nil {
		t.Fatal(err)
	}
	excFile := filepath.Join(dir, "exceptions.yaml")
	if err := os.WriteFile(excFile, []byte(`exceptions:
  - rule: PORT-SSH
    provider: gcp
    resource: "*bastion-1"
    reason: IAP-fronted bastion, reviewed in SEC-1.
    owner: platform@example.com
    expires: 2099-12-31
  - rule: PORT-RDP
    provider: azure
    resource: "*vm-jump-01*"
    reason: migration window
    owner: ops@example.com
    expires: 2020-01-31
  - rule: PORT-TELNET
    provider: aws
    account: "999999999999"
    reason: decommissioned long ago
    owner: ops@example.com
    expires: 2099-01-01
`), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, stderr := runCLI(t, "audit", "--snapshot", "../../demo/estate", "--no-probe", "--format", "json",
		"--rules", rulesFile, "--exceptions", excFile)
	if code != exitFindings {
		t.Fatalf("exit %d; stderr:\n%s", code, stderr)
	}
	m := validateReport(t, []byte(out))
	exps := map[string]map[string]any{}
	for _, x := range m["exposures"].([]any) {
		e := x.(map[string]any)
		exps[e["id"].(string)] = e
	}
	var custom, bastionSuppressed, rdpActive bool
	for _, x := range m["findings"].([]any) {
		f := x.(map[string]any)
		e := exps[f["exposureId"].(string)]
		target := m["targets"].(map[string]any)[e["target"].(string)].(map[string]any)
		name, _ := target["name"].(string)
		id, _ := target["id"].(string)
		switch {
		case f["ruleId"] == "ORG-DEV-PORTS":
			custom = true
		case f["ruleId"] == "PORT-SSH" && name == "bastion-1" && e["provider"] == "gcp":
			bastionSuppressed = f["suppressed"] == true
		case f["ruleId"] == "PORT-RDP" && strings.Contains(name+id, "vm-jump-01") && e["level"] == "effective":
			rdpActive = f["suppressed"] == false
		}
	}
	if !custom {
		t.Error("the custom rule ORG-DEV-PORTS reported nothing (the demo's Jupyter on 8888 is open to anyone)")
	}
	if !bastionSuppressed {
		t.Error("the active exception did not suppress PORT-SSH on the GCP bastion")
	}
	if !rdpActive {
		t.Error("the expired exception still suppresses PORT-RDP on vm-jump-01")
	}
	kinds := map[string]bool{}
	for _, x := range m["exceptions"].([]any) {
		kinds[x.(map[string]any)["kind"].(string)] = true
	}
	if !kinds["expired"] || !kinds["stale"] {
		t.Errorf("exceptions listed: %v, want expired and stale", kinds)
	}
}
