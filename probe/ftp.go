package probe

import (
	"context"
	"regexp"
	"strings"
)

// ftpProducts pulls a product and version out of common FTP greetings.
var ftpProducts = regexp.MustCompile(`(?i)(vsFTPd|ProFTPD|Pure-FTPd|FileZilla Server|Microsoft FTP Service|Serv-U FTP Server|wu-ftpd)[ v/]*([0-9][0-9A-Za-z.\-]*)?`)

// probeFTP reads the FTP greeting, a "220" reply (RFC 959 §5.4: the server
// sends it on connection); a 421 means the server is refusing service. No
// command is sent: logging in, even anonymously, would try a credential.
func probeFTP(ctx context.Context, s *session) (*fingerprint, error) {
	b := s.greeting(ctx)
	code, text, ok := replyLine(b)
	if !ok || (code != "220" && code != "421") {
		return nil, nil
	}
	fp := &fingerprint{Service: "ftp", Product: productFrom(ftpProducts, text)}
	fp.set("ftp.greeting", clean(text, 120))
	if code == "421" {
		fp.set("ftp.refused", "421 service not available")
	}
	return fp, nil
}

// replyLine splits the first line of an FTP/SMTP reply ("220 text" or the
// first line of a multi-line "220-text") into code and text.
func replyLine(b []byte) (code, text string, ok bool) {
	l := firstLine(b)
	if len(l) < 3 || !isDigits(l[:3]) {
		return "", "", false
	}
	if len(l) > 3 && l[3] != ' ' && l[3] != '-' {
		return "", "", false
	}
	if len(l) > 4 {
		text = l[4:]
	}
	return l[:3], text, true
}

func isDigits(s string) bool {
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return s != ""
}

// productFrom returns "Name version" from the first match of re, whose
// first group is the name and second the version.
func productFrom(re *regexp.Regexp, text string) string {
	m := re.FindStringSubmatch(text)
	if m == nil {
		return ""
	}
	return clean(strings.TrimSpace(m[1]+" "+m[2]), 80)
}
