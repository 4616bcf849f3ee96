package probe

import (
	"bytes"
	"context"
	"strings"
)

// probeMemcachedTCP sends the text-protocol "version" command, which only
// reads (https://github.com/memcached/memcached/blob/master/doc/protocol.txt),
// and expects "VERSION x.y.z".
func probeMemcachedTCP(ctx context.Context, s *session) (*fingerprint, error) {
	if err := s.write(ctx, []byte("version\r\n")); err != nil {
		return nil, err
	}
	b, err := s.readSome(ctx, s.cfg().Timeout, false)
	return memcachedVersion(b), err
}

func memcachedVersion(b []byte) *fingerprint {
	if !bytes.HasPrefix(b, []byte("VERSION ")) {
		return nil
	}
	v := strings.TrimSpace(firstLine(b[len("VERSION "):]))
	fp := &fingerprint{Service: "memcached", Product: clean("memcached "+v, 60)}
	fp.set("memcached.version", clean(v, 40))
	return fp
}
