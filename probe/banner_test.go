package probe

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/portcullis-sec/portcullis/probe/lab"
)

func TestBannerText(t *testing.T) {
	for _, c := range []struct{ name, in, want string }{
		{"ssh identification", "SSH-2.0-OpenSSH_9.6\r\n", "SSH-2.0-OpenSSH_9.6"},
		{"multi-line reply", "220-mx ESMTP\r\n220 ready\r\n", "220-mx ESMTP\n220 ready"},
		{"bare LF and a backslash", "SSH-2.0-a\\b\n", `SSH-2.0-a\b`},
		{"binary stays escaped", "\x00\x01binary\r\n", `\x00\x01binary\r\n`},
		{"escape sequence stays escaped", "220 \x1b[2J\r\n", `220 \x1b[2J\r\n`},
		{"beyond ASCII stays escaped", "SSH-2.0-caf\xc3\xa9\r\n", `SSH-2.0-caf\xc3\xa9\r\n`},
		{"clipped", "SSH-2.0-" + strings.Repeat("x", 100), "SSH-2.0-" + strings.Repeat("x", 24)},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := bannerText([]byte(c.in), 32); got != c.want {
				t.Errorf("bannerText(%q) = %q, want %q", c.in, got, c.want)
			}
		})
	}
}

// TestSSHBannerIsText: the SSH banner is stored as the text the server
// sent, so the JSON report escapes nothing twice.
func TestSSHBannerIsText(t *testing.T) {
	l := startLab(t, lab.Service{Kind: lab.SSH})
	obs := newProber(t, Config{}).Run(t.Context(), []Target{targetOf(l.Endpoints[0], "")}, nil)
	if got := obs[0].Evidence["banner"]; got != "SSH-2.0-OpenSSH_9.6p1 PortcullisLab" {
		t.Errorf("banner = %q, want the identification string without its CR LF", got)
	}
	b, err := json.Marshal(obs[0].Evidence)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), `\\`) {
		t.Errorf("evidence JSON escapes twice: %s", b)
	}
}
