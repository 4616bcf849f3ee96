package main

import (
	"fmt"
	"net"
	"os"
	"strings"
	"testing"

	"github.com/portcullis-sec/portcullis/audit"
)

// TestNothingAuditedHint: a refused or unresolved API is not blamed on
// credentials, and a credentials failure is. The AWS messages were captured
// from real runs (against a closed loopback port, and with no credentials);
// the others are worded as their client libraries word them.
func TestNothingAuditedHint(t *testing.T) {
	tests := []struct {
		name, cause string
		network     bool
	}{
		{"refused", `collect aws: get caller identity: operation error STS: GetCallerIdentity, exceeded maximum number of attempts, 6, https response error StatusCode: 0, RequestID: , request send failed, Post "http://127.0.0.1:1/": dial tcp 127.0.0.1:1: connect: connection refused`, true},
		{"unresolved", `collect aws: get caller identity: operation error STS: GetCallerIdentity, https response error StatusCode: 0, RequestID: , request send failed, Post "https://sts.example.invalid/": dial tcp: lookup sts.example.invalid: no such host`, true},
		{"timed out", `collect gcp: list projects: Get "https://cloudresourcemanager.googleapis.com/v3/projects": dial tcp 192.0.2.1:443: i/o timeout`, true},
		{"no aws credentials", `collect aws: get caller identity: operation error STS: GetCallerIdentity, get identity: get credentials: failed to refresh cached credentials, no EC2 IMDS role found, operation error ec2imds: GetMetadata, access disabled to EC2 IMDS via client option, or "AWS_EC2_METADATA_DISABLED" environment variable`, false},
		{"no gcp credentials", `collect gcp: credentials: could not find default credentials. See https://cloud.google.com/docs/authentication/external/set-up-adc for more information`, false},
		{"denied", `collect aws: get caller identity: operation error STS: GetCallerIdentity, https response error StatusCode: 403, RequestID: 1, api error InvalidClientTokenId: The security token included in the request is invalid.`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hint := nothingAuditedHint(fmt.Errorf("%w: [%s]", audit.ErrNothingAudited, tt.cause))
			if blames := strings.Contains(hint, "credentials"); blames == tt.network {
				t.Errorf("hint %q: mentions credentials %v, want %v", hint, blames, !tt.network)
			}
			if reached := strings.Contains(hint, "could not be reached"); reached != tt.network {
				t.Errorf("hint %q: says unreachable %v, want %v", hint, reached, tt.network)
			}
			if strings.Contains(hint, "every call") || !strings.Contains(hint, "-v logs each provider's failure") {
				t.Errorf("hint %q does not say what -v shows", hint)
			}
		})
	}
}

// TestAuditRefusedEndpoint runs the CLI against a loopback port nothing
// listens on: exit 2, and the hint names the refused connection, not the
// credentials.
func TestAuditRefusedEndpoint(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]string{
		"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "",
		"AWS_PROFILE": "", "AWS_CONFIG_FILE": os.DevNull, "AWS_SHARED_CREDENTIALS_FILE": os.DevNull,
		"AWS_EC2_METADATA_DISABLED": "true", "AWS_ENDPOINT_URL": "",
	} {
		t.Setenv(k, v)
	}
	// The endpoint override turns probing off: no packet leaves loopback.
	code, _, stderr := runCLI(t, "audit", "--provider", "aws", "--regions", "us-east-1", "--aws-endpoint", "http://"+addr)
	if code != exitError {
		t.Errorf("exit %d, want %d; stderr:\n%s", code, exitError, stderr)
	}
	if !strings.Contains(stderr, "could not be reached (connection refused)") || strings.Contains(stderr, "check the credentials") {
		t.Errorf("hint does not name the refused connection, or blames credentials:\n%s", stderr)
	}
}
