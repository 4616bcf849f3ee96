package probe

import (
	"bytes"
	"context"
	"strings"
)

// probeSSH reads the SSH identification string, "SSH-protoversion-
// softwareversion SP comments CR LF" (RFC 4253 §4.2). Servers may send
// other lines before it; the prober sends nothing.
func probeSSH(ctx context.Context, s *session) (*fingerprint, error) {
	b := s.greeting(ctx)
	for _, line := range bytes.Split(b, []byte("\n")) {
		l := strings.TrimRight(string(line), "\r")
		if !strings.HasPrefix(l, "SSH-") {
			continue
		}
		fp := &fingerprint{Service: "ssh"}
		rest := strings.TrimPrefix(l, "SSH-")
		proto, software, _ := strings.Cut(rest, "-")
		software, comment, _ := strings.Cut(software, " ")
		fp.Product = clean(software, 80)
		fp.set("ssh.protocol", clean(proto, 16))
		fp.set("ssh.comment", clean(comment, 80))
		if proto == "1.5" || proto == "1.0" {
			fp.set("ssh.legacy", "SSH protocol 1 only")
		}
		return fp, nil
	}
	return nil, nil
}
