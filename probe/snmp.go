package probe

import (
	"encoding/hex"
	"errors"
	"fmt"
)

// snmpDiscovery is an SNMPv3 engine-discovery request (RFC 3414 §4): a
// get-request with an empty engine ID, empty user name, no authentication
// and the reportable flag. An agent answers with a Report PDU that carries
// its engine ID, boots and time. It holds no credential — unlike an
// SNMPv1/v2c request, whose community string is a password.
func snmpDiscovery(id uint16) []byte {
	usm := ber(0x30,
		ber(0x04),            // msgAuthoritativeEngineID
		berInt(0), berInt(0), // engine boots, engine time
		ber(0x04), ber(0x04), ber(0x04), // user name, auth params, priv params
	)
	return ber(0x30,
		berInt(3), // msgVersion: SNMPv3
		ber(0x30, berInt(int(id)), berInt(65507), ber(0x04, []byte{0x04}), berInt(3)), // msgID, maxSize, flags reportable, USM
		ber(0x04, usm),
		ber(0x30, ber(0x04), ber(0x04), // contextEngineID, contextName
			ber(0xa0, berInt(int(id)), berInt(0), berInt(0), ber(0x30))), // get-request, no varbinds
	)
}

func ber(tag byte, content ...[]byte) []byte {
	var body []byte
	for _, c := range content {
		body = append(body, c...)
	}
	out := []byte{tag}
	switch n := len(body); {
	case n < 0x80:
		out = append(out, byte(n))
	case n < 0x100:
		out = append(out, 0x81, byte(n))
	default:
		out = append(out, 0x82, byte(n>>8), byte(n)) //nolint:gosec // the requests built here are under 100 bytes
	}
	return append(out, body...)
}

func berInt(n int) []byte {
	var b []byte
	for {
		b = append([]byte{byte(n)}, b...) //nolint:gosec // the low byte, by design: BER big-endian two's complement
		n >>= 8
		if n == 0 && b[0]&0x80 == 0 {
			break
		}
		if n == 0 {
			b = append([]byte{0}, b...)
			break
		}
	}
	return ber(0x02, b)
}

// berNext splits the first TLV off b.
func berNext(b []byte) (tag byte, content, rest []byte, err error) {
	if len(b) < 2 {
		return 0, nil, nil, errors.New("ber: short")
	}
	tag, n, off := b[0], int(b[1]), 2
	if n&0x80 != 0 {
		k := n & 0x7f
		if k == 0 || k > 3 || len(b) < 2+k {
			return 0, nil, nil, errors.New("ber: bad length")
		}
		n = 0
		for _, c := range b[2 : 2+k] {
			n = n<<8 | int(c)
		}
		off += k
	}
	if off+n > len(b) {
		return 0, nil, nil, errors.New("ber: truncated")
	}
	return tag, b[off : off+n], b[off+n:], nil
}

func berInteger(b []byte) int {
	n := 0
	for _, c := range b {
		n = n<<8 | int(c)
	}
	return n
}

// snmpEnterprises names the IANA private enterprise numbers most often
// found in engine IDs.
var snmpEnterprises = map[int]string{
	9: "Cisco", 11: "HP", 311: "Microsoft", 2011: "Huawei", 2636: "Juniper",
	8072: "Net-SNMP", 12356: "Fortinet", 14988: "MikroTik", 25461: "Palo Alto Networks",
	30065: "Arista", 4526: "Netgear", 6876: "VMware",
}

// parseSNMP accepts an SNMPv3 message with our msgID and reads the engine
// ID from its security parameters (RFC 3411 §5 SnmpEngineID: an IANA
// enterprise number with the top bit set, a format byte, then data).
func parseSNMP(b []byte, id uint16) *fingerprint {
	tag, msg, _, err := berNext(b)
	if err != nil || tag != 0x30 {
		return nil
	}
	tag, ver, msg, err := berNext(msg)
	if err != nil || tag != 0x02 || berInteger(ver) != 3 {
		return nil
	}
	tag, global, msg, err := berNext(msg)
	if err != nil || tag != 0x30 {
		return nil
	}
	if tag, msgID, _, err := berNext(global); err != nil || tag != 0x02 || berInteger(msgID) != int(id) {
		return nil
	}
	fp := &fingerprint{Service: "snmp", Product: "SNMPv3"}
	fp.set("snmp.version", "3")
	tag, sec, _, err := berNext(msg)
	if err != nil || tag != 0x04 {
		return fp
	}
	_, usm, _, err := berNext(sec)
	if err != nil {
		return fp
	}
	_, engine, usm, err := berNext(usm)
	if err != nil {
		return fp
	}
	fp.set("snmp.engineID", hex.EncodeToString(engine))
	if len(engine) >= 4 && engine[0]&0x80 != 0 {
		ent := int(engine[0]&0x7f)<<24 | int(engine[1])<<16 | int(engine[2])<<8 | int(engine[3])
		fp.set("snmp.enterprise", fmt.Sprint(ent))
		if name, ok := snmpEnterprises[ent]; ok {
			fp.Product = name + " SNMPv3"
		}
	}
	if _, boots, usm, err := berNext(usm); err == nil {
		fp.set("snmp.engineBoots", fmt.Sprint(berInteger(boots)))
		if _, t, _, err := berNext(usm); err == nil {
			fp.set("snmp.engineTime", fmt.Sprint(berInteger(t)))
		}
	}
	return fp
}
