// Package mototest starts moto_server on a free loopback port for the
// functions' integration tests (the pattern of providers/aws/moto_test.go).
// It is imported by tests only.
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

// Run starts moto_server on 127.0.0.1, points every AWS SDK client of the
// process at it through AWS_ENDPOINT_URL (with dummy credentials and no
// shared configuration), runs the tests and stops the server.
func Run(m *testing.M) int {
	bin, err := exec.LookPath("moto_server")
	if err != nil {
		fmt.Fprintln(os.Stderr, "functions tests need moto_server (moto 5.x) on PATH: run `make moto` or `pip install 'moto[server]'`")
		return 1
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, "find a free loopback port:", err)
		return 1
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	cmd := exec.Command(bin, "-H", "127.0.0.1", "-p", fmt.Sprint(port))
	if err := cmd.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "start moto_server:", err)
		return 1
	}
	defer func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}()
	url := fmt.Sprintf("http://127.0.0.1:%d", port)
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(url + "/moto-api/")
		if err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			fmt.Fprintln(os.Stderr, "moto_server did not answer on", url, ":", err)
			return 1
		}
		time.Sleep(100 * time.Millisecond)
	}
	for k, v := range map[string]string{
		"AWS_ENDPOINT_URL":  url,
		"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "",
		"AWS_REGION": "us-east-1", "AWS_PROFILE": "", "AWS_CONFIG_FILE": os.DevNull,
		"AWS_SHARED_CREDENTIALS_FILE": os.DevNull, "AWS_EC2_METADATA_DISABLED": "true",
	} {
		os.Setenv(k, v)
	}
	return m.Run()
}
