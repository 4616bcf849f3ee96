// Package mototest runs moto_server, the AWS stand-in of the integration
// tests, on a free loopback port. Tests only.
package mototest

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"testing"
	"time"
)

// Account is the account moto reports for its dummy credentials.
const Account = "123456789012"

// Main is a TestMain body: it starts moto_server on 127.0.0.1, gives the
// process dummy credentials and no shared configuration or metadata
// service (so no SDK call can leave the machine for real credentials),
// stores the server's URL in *url when url is not nil, also points every
// SDK client at it through AWS_ENDPOINT_URL when endpointEnv is set, runs
// the tests and stops the server. It returns the exit code. A missing
// moto_server fails the tests with a clear message: make test installs it.
func Main(m *testing.M, endpointEnv bool, url *string) int {
	bin, err := exec.LookPath("moto_server")
	if err != nil {
		fmt.Fprintln(os.Stderr, "these tests need moto_server (moto 5.x) on PATH: run `make test` or `pip install 'moto[server]'`")
		return 1
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, "find a free loopback port:", err)
		return 1
	}
	port := l.Addr().(*net.TCPAddr).Port
	// Only the free port was wanted: moto_server binds it next.
	_ = l.Close()
	cmd := exec.Command(bin, "-H", "127.0.0.1", "-p", fmt.Sprint(port)) //nolint:gosec // moto_server from PATH, loopback and a port of ours
	if err := cmd.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "start moto_server:", err)
		return 1
	}
	defer func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}()
	u := fmt.Sprintf("http://127.0.0.1:%d", port)
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		resp, err := http.Get(u + "/moto-api/")
		if err == nil {
			_ = resp.Body.Close() // the answer was all we waited for
			break
		}
		if time.Now().After(deadline) {
			fmt.Fprintln(os.Stderr, "moto_server did not answer on", u, ":", err)
			return 1
		}
	}
	env := map[string]string{
		"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "",
		"AWS_REGION": "us-east-1", "AWS_PROFILE": "", "AWS_CONFIG_FILE": os.DevNull,
		"AWS_SHARED_CREDENTIALS_FILE": os.DevNull, "AWS_EC2_METADATA_DISABLED": "true",
	}
	if endpointEnv {
		env["AWS_ENDPOINT_URL"] = u
	}
	for k, v := range env {
		if err := os.Setenv(k, v); err != nil {
			fmt.Fprintf(os.Stderr, "set %s for the tests: %v\n", k, err)
			return 1
		}
	}
	if url != nil {
		*url = u
	}
	return m.Run()
}
