package probe

import (
	"encoding/binary"
	"fmt"
	"net/netip"
)

// ntpRequest is a mode-3 (client) NTPv4 packet (RFC 5905 §7.3): what every
// NTP client sends for the time. Its transmit timestamp carries the probe
// ID so the reply's origin timestamp can be matched. Mode 6 and 7 queries
// (readvar, monlist) are never sent: they are the amplification vectors.
func ntpRequest(id uint16) []byte {
	b := make([]byte, 48)
	b[0] = 0<<6 | 4<<3 | 3 // LI 0, VN 4, mode 3
	binary.BigEndian.PutUint16(b[40:], id)
	binary.BigEndian.PutUint16(b[46:], 0x5043) // "PC"
	return b
}

// parseNTP accepts a mode-4 (server) reply whose origin timestamp echoes
// the request's transmit timestamp.
func parseNTP(b []byte, id uint16) *fingerprint {
	if len(b) < 48 || b[0]&7 != 4 || binary.BigEndian.Uint16(b[24:]) != id || binary.BigEndian.Uint16(b[30:]) != 0x5043 {
		return nil
	}
	version := b[0] >> 3 & 7
	stratum := b[1]
	fp := &fingerprint{Service: "ntp", Product: fmt.Sprintf("NTPv%d", version)}
	fp.set("ntp.version", fmt.Sprint(version))
	fp.set("ntp.stratum", fmt.Sprint(stratum))
	switch stratum {
	case 0:
		fp.set("ntp.kissCode", clean(string(b[12:16]), 8)) // kiss-o'-death, RFC 5905 §7.4
	case 1:
		fp.set("ntp.refid", clean(string(b[12:16]), 8)) // a reference clock name, e.g. GPS
	default:
		fp.set("ntp.refid", netip.AddrFrom4([4]byte(b[12:16])).String())
	}
	return fp
}
