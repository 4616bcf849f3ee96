package probe

import (
	"bytes"
	"context"
	"encoding/binary"
	"strconv"
	"strings"
)

// probeMySQL parses the greeting a MySQL or MariaDB server sends on
// connection: a protocol-10 handshake carrying the server version, or an
// error packet (0xff, code, message) for hosts it refuses, e.g. 1130 "Host
// … is not allowed to connect". Nothing is sent back: no login attempt.
// https://dev.mysql.com/doc/dev/mysql-server/latest/page_protocol_connection_phase_packets_protocol_handshake_v10.html
func probeMySQL(ctx context.Context, s *session) (*fingerprint, error) {
	b := s.greeting(ctx)
	if !isMySQLGreeting(b) {
		return nil, nil
	}
	payload := b[4:]
	if n := int(b[0]) | int(b[1])<<8 | int(b[2])<<16; n < len(payload) {
		payload = payload[:n]
	}
	fp := &fingerprint{Service: "mysql"}
	if payload[0] == 0xff {
		code := binary.LittleEndian.Uint16(payload[1:3])
		msg := payload[3:]
		if len(msg) > 0 && msg[0] == '#' && len(msg) >= 6 { // SQL state marker
			msg = msg[6:]
		}
		fp.set("mysql.error", strconv.Itoa(int(code))+" "+clean(string(msg), 160))
		return fp, nil
	}
	end := bytes.IndexByte(payload[1:], 0)
	version := string(payload[1 : 1+end])
	fp.set("mysql.version", clean(version, 80))
	fp.set("mysql.protocol", "10")
	// MariaDB prefixes "5.5.5-" so that old clients accept it.
	if i := strings.Index(version, "MariaDB"); i >= 0 {
		fp.Product = "MariaDB " + strings.TrimSuffix(strings.TrimPrefix(version[:i], "5.5.5-"), "-")
	} else {
		v, _, _ := strings.Cut(version, "-")
		fp.Product = "MySQL " + v
	}
	fp.Product = clean(fp.Product, 80)
	return fp, nil
}
