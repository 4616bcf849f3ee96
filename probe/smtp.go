package probe

import (
	"context"
	"regexp"
	"strings"
)

var smtpProducts = regexp.MustCompile(`(?i)(Postfix|Exim|Sendmail|Microsoft ESMTP MAIL Service|OpenSMTPD|Haraka|qmail|MailEnable|hMailServer|Zimbra)[ v/]*([0-9][0-9A-Za-z.\-]*)?`)

// probeSMTP reads the SMTP greeting: "220 domain text" (RFC 5321 §4.2 and
// §3.1), or 554 when the server will not talk to this client. No EHLO is
// sent; the greeting names the host and usually the MTA.
func probeSMTP(ctx context.Context, s *session) (*fingerprint, error) {
	b := s.greeting(ctx)
	code, text, ok := replyLine(b)
	if !ok || (code != "220" && code != "554" && code != "421") {
		return nil, nil
	}
	fp := &fingerprint{Service: "smtp", Product: productFrom(smtpProducts, text)}
	host, _, _ := strings.Cut(text, " ")
	fp.set("smtp.host", clean(host, 80))
	fp.set("smtp.greeting", clean(text, 120))
	if code != "220" {
		fp.set("smtp.refused", code)
	}
	return fp, nil
}
