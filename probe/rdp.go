package probe

import (
	"context"
	"encoding/binary"
	"strconv"
)

// rdpConnectionRequest is a TPKT header (RFC 1006), an X.224 Connection
// Request TPDU (ISO 8073) and an RDP Negotiation Request asking for TLS or
// CredSSP ([MS-RDPBCGR] 2.2.1.1). It carries no cookie and no user name.
var rdpConnectionRequest = []byte{
	0x03, 0x00, 0x00, 0x13, // TPKT: version 3, length 19
	0x0e, 0xe0, 0x00, 0x00, 0x00, 0x00, 0x00, // X.224 CR, no class options
	0x01, 0x00, 0x08, 0x00, 0x03, 0x00, 0x00, 0x00, // RDP_NEG_REQ: PROTOCOL_SSL|PROTOCOL_HYBRID
}

// probeRDP sends the X.224 connection request and expects a connection
// confirm (0xd0), whose negotiation response says which security protocol
// the server picked ([MS-RDPBCGR] 2.2.1.2). It stops there.
func probeRDP(ctx context.Context, s *session) (*fingerprint, error) {
	if err := s.write(ctx, rdpConnectionRequest); err != nil {
		return nil, err
	}
	b, err := s.readSome(ctx, s.cfg().Timeout, true)
	if len(b) < 11 || b[0] != 3 || b[1] != 0 || b[5] != 0xd0 {
		return nil, err
	}
	fp := &fingerprint{Service: "rdp", Product: "RDP"}
	if len(b) >= 19 {
		neg := b[11:19]
		switch neg[0] {
		case 0x02: // RDP_NEG_RSP
			fp.set("rdp.security", rdpProtocol(binary.LittleEndian.Uint32(neg[4:8])))
		case 0x03: // RDP_NEG_FAILURE
			fp.set("rdp.negotiation", "failure code "+strconv.Itoa(int(binary.LittleEndian.Uint32(neg[4:8]))))
		}
	} else {
		fp.set("rdp.security", "standard RDP security (no negotiation)")
	}
	return fp, nil
}

func rdpProtocol(p uint32) string {
	switch p {
	case 0:
		return "standard RDP security"
	case 1:
		return "tls"
	case 2:
		return "credssp (nla)"
	case 8:
		return "credssp with early user authorization"
	}
	return "protocol " + strconv.Itoa(int(p))
}
