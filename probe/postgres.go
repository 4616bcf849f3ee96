package probe

import (
	"context"
	"encoding/binary"
)

// probePostgres sends an SSLRequest (length 8, code 80877103), which every
// PostgreSQL server since 7.x answers with one byte, 'S' (TLS available)
// or 'N', before any authentication.
// https://www.postgresql.org/docs/current/protocol-flow.html#PROTOCOL-FLOW-SSL
func probePostgres(ctx context.Context, s *session) (*fingerprint, error) {
	req := make([]byte, 8)
	binary.BigEndian.PutUint32(req[0:4], 8)
	binary.BigEndian.PutUint32(req[4:8], 80877103)
	if err := s.write(ctx, req); err != nil {
		return nil, err
	}
	b, err := s.readSome(ctx, s.cfg().Timeout, false)
	if len(b) == 0 {
		return nil, err
	}
	fp := &fingerprint{Service: "postgresql", Product: "PostgreSQL"}
	switch {
	case len(b) == 1 && b[0] == 'S':
		fp.set("postgresql.ssl", "supported")
	case len(b) == 1 && b[0] == 'N':
		fp.set("postgresql.ssl", "not supported")
	case isPostgresError(b):
		fp.set("postgresql.error", printable(b[5:], 200))
	default:
		return nil, nil
	}
	return fp, nil
}
