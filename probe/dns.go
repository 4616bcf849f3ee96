package probe

import (
	"encoding/binary"
	"errors"
	"strconv"
)

// dnsQuery asks "version.bind. CH TXT" without recursion: a harmless
// question most authoritative and recursive servers answer (or refuse)
// about themselves (RFC 4892), never an ANY query and never for a name
// outside the server.
func dnsQuery(id uint16) []byte {
	b := make([]byte, 12, 12+14+4)
	binary.BigEndian.PutUint16(b[0:], id)
	binary.BigEndian.PutUint16(b[4:], 1) // QDCOUNT
	b = append(b, 7, 'v', 'e', 'r', 's', 'i', 'o', 'n', 4, 'b', 'i', 'n', 'd', 0)
	b = binary.BigEndian.AppendUint16(b, 16) // TXT
	b = binary.BigEndian.AppendUint16(b, 3)  // CH
	return b
}

var dnsRcodes = []string{"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED"}

// parseDNS accepts a response to the query above (same ID, QR set) and
// reads the TXT answer, the rcode and whether recursion is offered (RA):
// an open resolver on the internet is its own risk.
func parseDNS(b []byte, id uint16) *fingerprint {
	if len(b) < 12 || binary.BigEndian.Uint16(b) != id || b[2]&0x80 == 0 {
		return nil
	}
	flags := binary.BigEndian.Uint16(b[2:])
	fp := &fingerprint{Service: "dns"}
	rcode := int(flags & 0xf)
	if rcode < len(dnsRcodes) {
		fp.set("dns.rcode", dnsRcodes[rcode])
	} else {
		fp.set("dns.rcode", strconv.Itoa(rcode))
	}
	fp.set("dns.recursionAvailable", boolString(flags&0x0080 != 0))
	qd, an := binary.BigEndian.Uint16(b[4:]), binary.BigEndian.Uint16(b[6:])
	off := 12
	var err error
	for range qd {
		if off, err = skipName(b, off); err != nil || off+4 > len(b) {
			return fp
		}
		off += 4
	}
	for range an {
		if off, err = skipName(b, off); err != nil || off+10 > len(b) {
			return fp
		}
		typ := binary.BigEndian.Uint16(b[off:])
		rdlen := int(binary.BigEndian.Uint16(b[off+8:]))
		off += 10
		if off+rdlen > len(b) {
			return fp
		}
		if typ == 16 && rdlen > 0 {
			txt := b[off : off+rdlen]
			n := int(txt[0])
			if 1+n <= len(txt) {
				fp.Product = clean(string(txt[1:1+n]), 80)
				fp.set("dns.version", fp.Product)
			}
			return fp
		}
		off += rdlen
	}
	return fp
}

// skipName returns the offset after the (possibly compressed) name at off.
func skipName(b []byte, off int) (int, error) {
	for steps := 0; off < len(b) && steps < 128; steps++ {
		l := int(b[off])
		switch {
		case l == 0:
			return off + 1, nil
		case l&0xc0 == 0xc0:
			return off + 2, nil // a pointer ends the name
		}
		off += 1 + l
	}
	return 0, errors.New("dns name runs off the message")
}
