package probe

import (
	"context"
	"regexp"
	"strconv"
)

var rfbVersion = regexp.MustCompile(`^RFB (\d{3})\.(\d{3})\n`)

// probeVNC reads the RFB ProtocolVersion message the server sends first,
// "RFB 003.008\n" (RFC 6143 §7.1.1). No security type is chosen.
func probeVNC(ctx context.Context, s *session) (*fingerprint, error) {
	m := rfbVersion.FindSubmatch(s.greeting(ctx))
	if m == nil {
		return nil, nil
	}
	major, _ := strconv.Atoi(string(m[1]))
	minor, _ := strconv.Atoi(string(m[2]))
	fp := &fingerprint{Service: "vnc", Product: "RFB " + strconv.Itoa(major) + "." + strconv.Itoa(minor)}
	fp.set("vnc.protocol", string(m[1])+"."+string(m[2]))
	return fp, nil
}
