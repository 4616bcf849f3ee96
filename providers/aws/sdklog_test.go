package aws

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// truncatingServer answers every request with a 200 that promises more body
// than it sends and then drops the connection, as a reset mid-response does:
// the SDK fails to decode, then fails to drain the rest, and warns.
func truncatingServer(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, buf, err := w.(http.Hijacker).Hijack()
		if err != nil {
			t.Errorf("hijack: %v", err)
			return
		}
		defer conn.Close()
		_, _ = buf.WriteString("HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nContent-Length: 4096\r\n\r\n<GetCallerIdentityResponse><GetCallerIdentityResult>")
		_ = buf.Flush()
	}))
	t.Cleanup(srv.Close)
	if host, _, _ := net.SplitHostPort(srv.Listener.Addr().String()); host != "127.0.0.1" {
		t.Fatalf("test server on %s, want loopback", host)
	}
	return srv.URL
}

// TestSDKLogsFollowTheLogger: the SDK's own warnings ("failed to discard
// remaining HTTP response body") reach the collector's slog logger at debug
// level, so the CLI shows them with -v only and never prints them itself.
func TestSDKLogsFollowTheLogger(t *testing.T) {
	url := truncatingServer(t)
	tests := []struct {
		name  string
		level slog.Level
		want  bool
	}{
		{"CLI default (warn)", slog.LevelWarn, false},
		{"-v (debug)", slog.LevelDebug, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			log := slog.New(slog.NewTextHandler(&out, &slog.HandlerOptions{Level: tt.level}))
			c, err := NewCollector(t.Context(), Config{Endpoint: url, Regions: []string{"us-east-1"}, Logger: log})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			_, err = sts.NewFromConfig(c.(*collector).base).GetCallerIdentity(ctx, nil, func(o *sts.Options) { o.RetryMaxAttempts = 1 })
			if err == nil {
				t.Fatal("GetCallerIdentity succeeded on a truncated response")
			}
			got := out.String()
			if logged := strings.Contains(got, "failed to discard remaining HTTP response body"); logged != tt.want {
				t.Errorf("discard warning logged %v, want %v; log:\n%s", logged, tt.want, got)
			}
			if tt.want && !strings.Contains(got, "level=DEBUG") || strings.Contains(got, "level=WARN") {
				t.Errorf("SDK lines not at debug level:\n%s", got)
			}
		})
	}
}
