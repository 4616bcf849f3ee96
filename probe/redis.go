package probe

import (
	"bytes"
	"context"
	"strings"
)

// probeRedis sends PING as a RESP array (https://redis.io/docs/latest/
// develop/reference/protocol-spec/). "+PONG" is an open server; "-NOAUTH"
// one that needs a password; "-DENIED" one in protected mode. Only when
// PING succeeded without authentication does it ask INFO server, a
// read-only command, for the version.
func probeRedis(ctx context.Context, s *session) (*fingerprint, error) {
	if err := s.write(ctx, []byte("*1\r\n$4\r\nPING\r\n")); err != nil {
		return nil, err
	}
	b, err := s.readSome(ctx, s.cfg().Timeout, false)
	fp := &fingerprint{Service: "redis"}
	switch {
	case bytes.HasPrefix(b, []byte("+PONG")):
		fp.set("redis.auth", "none: PING answered without authentication")
	case bytes.HasPrefix(b, []byte("-NOAUTH")), bytes.HasPrefix(b, []byte("-WRONGPASS")):
		fp.set("redis.auth", "required")
		fp.set("redis.reply", clean(firstLine(b), 120))
		return fp, nil
	case bytes.HasPrefix(b, []byte("-DENIED")):
		fp.set("redis.auth", "protected mode")
		fp.set("redis.reply", clean(firstLine(b), 200))
		return fp, nil
	default:
		return nil, err
	}
	if err := s.write(ctx, []byte("*2\r\n$4\r\nINFO\r\n$6\r\nserver\r\n")); err != nil {
		return fp, nil
	}
	info, _ := s.readSome(ctx, s.cfg().Timeout, false)
	for _, line := range strings.Split(string(info), "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "redis_version:"); ok {
			fp.Product = "Redis " + clean(v, 40)
			fp.set("redis.version", clean(v, 40))
		}
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "redis_mode:"); ok {
			fp.set("redis.mode", clean(v, 40))
		}
	}
	return fp, nil
}
