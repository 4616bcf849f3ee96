package rules

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/portcullis-sec/portcullis/exposure"
)

func TestExceptions(t *testing.T) {
	path := writeFile(t, "exceptions.yaml", `exceptions:
  # active, by security group ID (a layer in the evidence) and port
  - rule: PORT-SSH
    resource: sg-bastion
    port: 22
    reason: bastion
    owner: platform@example.com
    expires: 2025-06-15
  # expired yesterday: the Redis finding comes back
  - rule: PORT-REDIS
    account: "111122223333"
    reason: migration
    owner: data@example.com
    expires: 2025-06-14
  # matches nothing
  - rule: PORT-MONGODB
    reason: old cluster
    owner: data@example.com
    expires: 2026-01-01
  # glob on an Azure resource ID, case-insensitive, any rule
  - resource: /subscriptions/*/resourcegroups/web/*
    rule: "*"
    reason: web tier
    owner: web@example.com
    expires: 2026-01-01
  # a port range must hold the whole of a range finding
  - rule: STRUCT-WIDE-RANGE
    port: 8000-8099
    reason: too narrow to cover 8000-8200
    owner: x@example.com
    expires: 2026-01-01
`)
	eng := mustEngine(t, Options{ExceptionsFile: path, Now: time.Date(2025, 6, 15, 23, 59, 0, 0, time.UTC)})
	exps := []*exposure.Exposure{
		expSpec{Ports: "22", Layer: "sg-bastion", Target: "eni-bastion"}.build(t),
		expSpec{Ports: "22", Layer: "sg-other", Target: "eni-other"}.build(t),
		expSpec{Ports: "6379", Target: "eni-cache"}.build(t),
		expSpec{Provider: "azure", Account: "sub-1", Ports: "3389", LayerKind: exposure.LayerNSG, Layer: "nsg-1",
			Target: "/subscriptions/sub-1/resourceGroups/WEB/providers/Microsoft.Network/networkInterfaces/nic-1"}.build(t),
		expSpec{Ports: "8000-8200", Target: "eni-wide"}.build(t),
	}
	res := eng.Evaluate(exps, nil)
	byTarget := map[string]Finding{}
	for _, f := range res.Findings {
		byTarget[f.Exposure.Target.ID+"/"+f.RuleID] = f
	}
	if f := byTarget["eni-bastion/PORT-SSH"]; f.Suppressed == nil || f.Suppressed.Owner != "platform@example.com" || !strings.HasSuffix(f.Suppressed.Source, "exceptions.yaml:3") {
		t.Errorf("bastion not suppressed on its expiry day: %+v", f.Suppressed)
	}
	if f := byTarget["eni-other/PORT-SSH"]; f.Suppressed != nil {
		t.Error("exception for sg-bastion covers sg-other")
	}
	if f := byTarget["eni-cache/PORT-REDIS"]; f.Suppressed != nil || f.Expired == nil || f.Expired.Expires != "2025-06-14" {
		t.Errorf("expired exception: suppressed=%v expired=%v", f.Suppressed, f.Expired)
	}
	if f := byTarget["/subscriptions/sub-1/resourceGroups/WEB/providers/Microsoft.Network/networkInterfaces/nic-1/PORT-RDP"]; f.Suppressed == nil {
		t.Error("azure glob did not match")
	}
	if f := byTarget["eni-wide/STRUCT-WIDE-RANGE"]; f.Suppressed != nil {
		t.Error("8000-8099 exception covers an 8000-8200 finding")
	}
	states := map[string]ExceptionState{}
	for _, s := range res.Exceptions {
		states[s.Exception.Rule] = s.State
		if s.Exception.Rule == "PORT-REDIS" && s.Matched != 1 {
			t.Errorf("expired exception matched %d findings, want 1", s.Matched)
		}
	}
	want := map[string]ExceptionState{"PORT-REDIS": ExceptionExpired, "PORT-MONGODB": ExceptionStale, "STRUCT-WIDE-RANGE": ExceptionStale}
	if len(states) != len(want) {
		t.Errorf("exception states = %v, want %v", states, want)
	}
	for k, v := range want {
		if states[k] != v {
			t.Errorf("exception %s: %q, want %q", k, states[k], v)
		}
	}
	// Suppressed findings pass their controls, with the evidence kept.
	for _, c := range res.Compliance {
		if c.Framework == "cis-azure" && c.Control == "6.1" && (c.Status != StatusPass || len(c.Excepted) != 1) {
			t.Errorf("cis-azure 6.1 with an excepted finding: %+v", c)
		}
	}
	// The next day the bastion exception has expired too.
	eng = mustEngine(t, Options{ExceptionsFile: path, Now: time.Date(2025, 6, 16, 0, 0, 0, 0, time.UTC)})
	res = eng.Evaluate(exps[:1], nil)
	if res.Findings[0].Suppressed != nil || res.Findings[0].Expired == nil {
		t.Error("exception still active the day after expiry")
	}
}

func TestExceptionsRejected(t *testing.T) {
	path := writeFile(t, "exceptions.yaml", `exceptions:
  - rule: PORT-SSH
    reason: ok
    owner: me
    expires: 2025-06-15
  - rule: PORT-SHH
    reason: typo
    owner: me
    expires: 2025-06-15
  - rule: PORT-SSH
    owner: me
    expires: 15/06/2025
  - account: "1234"
    reason: everything in an account
    owner: me
    expires: 2025-06-15
  - rule: PORT-SSH
    port: 70000
    reason: r
    owner: me
  - rule: PORT-SSH
    reason: r
    owner: me
    expires: 2025-06-15
    expiry: 2025-06-15
`)
	_, err := NewEngine(mustCatalog(t), Options{ExceptionsFile: path})
	if err == nil {
		t.Fatal("malformed exceptions accepted")
	}
	msg := strings.ReplaceAll(err.Error(), filepath.Dir(path)+string(filepath.Separator), "")
	// Unknown fields are found by the strict decoding pass first.
	if !strings.Contains(msg, "exceptions.yaml:25: field expiry not found") {
		t.Errorf("unknown field not reported:\n%s", msg)
	}
	path = writeFile(t, "exceptions.yaml", strings.Replace(readFile(t, path), "    expiry: 2025-06-15\n", "", 1))
	_, err = NewEngine(mustCatalog(t), Options{ExceptionsFile: path})
	if err == nil {
		t.Fatal("malformed exceptions accepted")
	}
	msg = strings.ReplaceAll(err.Error(), filepath.Dir(path)+string(filepath.Separator), "")
	for _, w := range []string{
		`exceptions.yaml:6: exception: rule "PORT-SHH" is neither a catalog nor a custom rule`,
		"exceptions.yaml:10: exception: reason is required",
		`exceptions.yaml:10: exception: expires "15/06/2025" is not a YYYY-MM-DD date`,
		"exceptions.yaml:13: exception: name a rule or a resource",
		"exceptions.yaml:17: exception: expires (YYYY-MM-DD) is required",
		"exceptions.yaml:17: exception: port: port range 70000-70000 out of range",
	} {
		if !strings.Contains(msg, w) {
			t.Errorf("error lacks %q:\n%s", w, msg)
		}
	}
	if strings.Contains(msg, "exceptions.yaml:2:") {
		t.Errorf("valid exception reported:\n%s", msg)
	}
}
