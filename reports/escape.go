package reports

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// termText makes a cloud-provided string safe to print on a terminal:
// control characters (which could move the cursor, rewrite earlier lines or
// change colours) and Unicode bidirectional and other format characters
// (which reorder what a person reads, as in CVE-2021-42574 "Trojan Source")
// are shown as escapes instead of being interpreted.
func termText(s string) string {
	clean := true
	for _, r := range s {
		if unsafeRune(r) {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == utf8.RuneError:
			b.WriteString(`\ufffd`)
		case unsafeRune(r) && r < 0x80:
			fmt.Fprintf(&b, `\x%02x`, r)
		case unsafeRune(r):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

func unsafeRune(r rune) bool {
	return unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || r == utf8.RuneError ||
		r == '\u2028' || r == '\u2029'
}
