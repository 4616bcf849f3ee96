package lab

import (
	"encoding/binary"
	"fmt"
	"net"
)

// responder answers one datagram; nil means stay silent.
type responder func(req []byte) []byte

func serveUDP(pc net.PacketConn, answer responder) {
	buf := make([]byte, 2048)
	for {
		n, from, err := pc.ReadFrom(buf)
		if err != nil {
			return
		}
		if out := answer(buf[:n]); out != nil {
			_, _ = pc.WriteTo(out, from)
		}
	}
}

func udpResponder(k Kind) (responder, error) {
	switch k {
	case DNS:
		return answerDNS, nil
	case NTP:
		return answerNTP, nil
	case SNMP:
		return answerSNMP, nil
	case MemcachedUDP:
		return func(req []byte) []byte {
			if len(req) < 8 || string(req[8:]) != "version\r\n" {
				return nil
			}
			return append(append([]byte(nil), req[:8]...), "VERSION 1.6.21\r\n"...)
		}, nil
	case SilentUDP:
		return func([]byte) []byte { return nil }, nil
	}
	return nil, fmt.Errorf("unknown lab UDP service kind %q", k)
}

// answerDNS answers every query with its question; version.bind CH TXT
// gets a TXT record, anything else NOERROR and no answer. Recursion is
// never offered.
func answerDNS(req []byte) []byte {
	if len(req) < 12 || req[2]&0x80 != 0 || binary.BigEndian.Uint16(req[4:]) != 1 {
		return nil
	}
	// Find the end of the question.
	off := 12
	for off < len(req) && req[off] != 0 {
		off += 1 + int(req[off])
	}
	off += 5
	if off > len(req) {
		return nil
	}
	q := req[12:off]
	out := make([]byte, 12, 64)
	copy(out, req[:2])
	out[2] = 0x84 // QR, AA
	binary.BigEndian.PutUint16(out[4:], 1)
	out = append(out, q...)
	if string(q) == "\x07version\x04bind\x00\x00\x10\x00\x03" {
		binary.BigEndian.PutUint16(out[6:], 1)
		const txt = "portcullis-lab-dns 1.0"
		out = append(out, 0xc0, 12, 0, 16, 0, 3, 0, 0, 0, 0)
		out = binary.BigEndian.AppendUint16(out, uint16(len(txt)+1))
		out = append(out, byte(len(txt)))
		out = append(out, txt...)
	}
	return out
}

// answerNTP answers a mode-3 request as a stratum-2 server.
func answerNTP(req []byte) []byte {
	if len(req) < 48 || req[0]&7 != 3 {
		return nil
	}
	out := make([]byte, 48)
	out[0] = 0<<6 | 4<<3 | 4
	out[1] = 2
	out[2] = req[2]
	out[3] = 0xe9
	copy(out[12:16], []byte{127, 0, 0, 1})
	copy(out[24:32], req[40:48]) // origin = client's transmit timestamp
	return out
}

// answerSNMP answers an SNMPv3 message with a report carrying a Net-SNMP
// style engine ID (enterprise 8072, format 128), echoing the msgID.
func answerSNMP(req []byte) []byte {
	_, msg, ok := tlv(req)
	if !ok {
		return nil
	}
	tag, ver, rest, ok := tlvRest(msg)
	if !ok || tag != 0x02 || len(ver) != 1 || ver[0] != 3 {
		return nil
	}
	_, global, _, ok := tlvRest(rest)
	if !ok {
		return nil
	}
	_, msgID, _, ok := tlvRest(global)
	if !ok {
		return nil
	}
	engine := []byte{0x80, 0x00, 0x1f, 0x88, 0x80, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88}
	usm := ber(0x30, ber(0x04, engine), ber(0x02, []byte{5}), ber(0x02, []byte{0x01, 0x00}), ber(0x04), ber(0x04), ber(0x04))
	report := ber(0xa8, ber(0x02, []byte{0}), ber(0x02, []byte{0}), ber(0x02, []byte{0}),
		ber(0x30, ber(0x30, ber(0x06, []byte{0x2b, 6, 1, 6, 3, 15, 1, 1, 4, 0}), ber(0x41, []byte{1}))))
	return ber(0x30,
		ber(0x02, []byte{3}),
		ber(0x30, ber(0x02, msgID), ber(0x02, []byte{0x00, 0xff, 0xe3}), ber(0x04, []byte{0}), ber(0x02, []byte{3})),
		ber(0x04, usm),
		ber(0x30, ber(0x04, engine), ber(0x04), report),
	)
}

func ber(tag byte, content ...[]byte) []byte {
	var body []byte
	for _, c := range content {
		body = append(body, c...)
	}
	out := []byte{tag}
	if n := len(body); n < 0x80 {
		out = append(out, byte(n))
	} else {
		out = append(out, 0x82, byte(n>>8), byte(n)) //nolint:gosec // lab replies are under 100 bytes
	}
	return append(out, body...)
}

func tlv(b []byte) (byte, []byte, bool) {
	tag, c, _, ok := tlvRest(b)
	return tag, c, ok
}

func tlvRest(b []byte) (byte, []byte, []byte, bool) {
	if len(b) < 2 {
		return 0, nil, nil, false
	}
	n, off := int(b[1]), 2
	if n&0x80 != 0 {
		k := n & 0x7f
		if k == 0 || k > 2 || len(b) < 2+k {
			return 0, nil, nil, false
		}
		n = 0
		for _, c := range b[2 : 2+k] {
			n = n<<8 | int(c)
		}
		off += k
	}
	if off+n > len(b) {
		return 0, nil, nil, false
	}
	return b[0], b[off : off+n], b[off+n:], true
}
