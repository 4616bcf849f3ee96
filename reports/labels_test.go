package reports

import (
	"testing"

	"github.com/portcullis-sec/portcullis/exposure"
)

// TestPortRangeLabel checks the port labels, and that ports outside
// 0-65535 (a report read back holds whatever its JSON gave) are shown as
// given rather than wrapped into another port.
func TestPortRangeLabel(t *testing.T) {
	for _, c := range []struct {
		from, to int
		want     string
	}{
		{443, 443, "443"},
		{8000, 8080, "8000-8080"},
		{0, 65535, "all"},
		{65536, 65536, "65536-65536"},
		{-1, 22, "-1-22"},
		{22, 70000, "22-70000"},
	} {
		if got := portRangeLabel(exposure.ProtocolTCP, c.from, c.to); got != c.want {
			t.Errorf("portRangeLabel(tcp, %d, %d) = %q, want %q", c.from, c.to, got, c.want)
		}
	}
}
