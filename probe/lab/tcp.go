package lab

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"strings"
	"time"
)

// sessionLimit bounds how long a lab service keeps a client.
const sessionLimit = 10 * time.Second

type handler func(ctx context.Context, c net.Conn)

func (l *Lab) serveTCP(ctx context.Context, ln net.Listener, h handler) {
	var conns sessionSet
	defer conns.closeAll()
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		l.accepted.Add(1)
		conns.add(c)
		l.wg.Go(func() {
			defer conns.remove(c)
			_ = c.SetDeadline(time.Now().Add(sessionLimit))
			h(ctx, c)
		})
	}
}

// greet sends the banner after the service's delay.
func greet(ctx context.Context, c net.Conn, s Service, def string) bool {
	if s.Delay > 0 {
		select {
		case <-ctx.Done():
			return false
		case <-time.After(s.Delay):
		}
	}
	banner := s.Banner
	if banner == "" {
		banner = def
	}
	_, err := io.WriteString(c, banner)
	return err == nil
}

func tcpHandler(s Service) (handler, error) {
	switch s.Kind {
	case SSH:
		return func(ctx context.Context, c net.Conn) {
			if !greet(ctx, c, s, "SSH-2.0-OpenSSH_9.6p1 PortcullisLab\r\n") {
				return
			}
			line, _ := bufio.NewReader(c).ReadString('\n')
			if !strings.HasPrefix(line, "SSH-") {
				_, _ = io.WriteString(c, "Invalid SSH identification string.\r\n")
			}
		}, nil
	case FTP:
		return lineGreeter(s, "220 (vsFTPd 3.0.5)\r\n", "530 Please login with USER and PASS.\r\n"), nil
	case SMTP:
		return lineGreeter(s, "220 mail.lab.portcullis.test ESMTP Postfix (Debian/GNU)\r\n", "502 5.5.2 Error: command not recognized\r\n"), nil
	case VNC:
		return lineGreeter(s, "RFB 003.008\n", ""), nil
	case MySQL:
		return func(ctx context.Context, c net.Conn) {
			if greet(ctx, c, s, string(mysqlHandshake("8.0.36"))) {
				_, _ = io.Copy(io.Discard, c)
			}
		}, nil
	case Redis, RedisAuth:
		return func(_ context.Context, c net.Conn) { serveRedis(c, s.Kind == RedisAuth) }, nil
	case Postgres:
		return servePostgres, nil
	case MongoDB:
		return serveMongo, nil
	case RDP:
		return serveRDP, nil
	case Memcached:
		return func(_ context.Context, c net.Conn) {
			r := bufio.NewReader(c)
			for {
				line, err := r.ReadString('\n')
				if err != nil {
					return
				}
				if strings.TrimSpace(line) == "version" {
					_, _ = io.WriteString(c, "VERSION 1.6.21\r\n")
				} else {
					_, _ = io.WriteString(c, "ERROR\r\n")
				}
			}
		}, nil
	case Silent:
		return func(ctx context.Context, c net.Conn) {
			// Read and discard, never answer, until the client or the lab
			// gives up.
			_, _ = io.Copy(io.Discard, c)
		}, nil
	}
	return nil, fmt.Errorf("unknown lab service kind %q", s.Kind)
}

// lineGreeter sends a greeting and answers every line with reply.
func lineGreeter(s Service, banner, reply string) handler {
	return func(ctx context.Context, c net.Conn) {
		if !greet(ctx, c, s, banner) {
			return
		}
		r := bufio.NewReader(c)
		for {
			if _, err := r.ReadString('\n'); err != nil {
				return
			}
			if reply == "" {
				return
			}
			if _, err := io.WriteString(c, reply); err != nil {
				return
			}
		}
	}
}

// mysqlHandshake builds a protocol-10 handshake packet (sequence 0).
func mysqlHandshake(version string) []byte {
	p := []byte{10}
	p = append(p, version...)
	p = append(p, 0)
	p = binary.LittleEndian.AppendUint32(p, 42) // connection id
	p = append(p, "abcdefgh"...)                // auth-plugin-data part 1
	p = append(p, 0)                            // filler
	p = binary.LittleEndian.AppendUint16(p, 0xffff)
	p = append(p, 255)                         // utf8mb4_0900_ai_ci
	p = binary.LittleEndian.AppendUint16(p, 2) // SERVER_STATUS_AUTOCOMMIT
	p = binary.LittleEndian.AppendUint16(p, 0xdfff)
	p = append(p, 21)
	p = append(p, make([]byte, 10)...)
	p = append(p, "ijklmnopqrst"...)
	p = append(p, 0)
	p = append(p, "caching_sha2_password"...)
	p = append(p, 0)
	hdr := []byte{byte(len(p)), byte(len(p) >> 8), byte(len(p) >> 16), 0} //nolint:gosec // a MySQL packet length: three little-endian bytes
	return append(hdr, p...)
}

// serveRedis speaks enough RESP: PING, INFO, and an error for the rest;
// like Redis it drops clients that send an HTTP "Host:" or "POST" line
// (its cross-protocol scripting guard).
func serveRedis(c net.Conn, auth bool) {
	r := bufio.NewReader(c)
	for {
		args, err := readRESP(r)
		if err != nil || len(args) == 0 {
			return
		}
		cmd := strings.ToLower(args[0])
		var reply string
		switch {
		case cmd == "host:" || cmd == "post":
			return
		case auth && cmd != "auth":
			reply = "-NOAUTH Authentication required.\r\n"
		case cmd == "ping":
			reply = "+PONG\r\n"
		case cmd == "info":
			body := "# Server\r\nredis_version:7.2.4\r\nredis_mode:standalone\r\n"
			reply = fmt.Sprintf("$%d\r\n%s\r\n", len(body), body)
		case cmd == "get" && len(args) != 2:
			reply = "-ERR wrong number of arguments for 'get' command\r\n"
		default:
			reply = fmt.Sprintf("-ERR unknown command '%s', with args beginning with: \r\n", strings.Map(printableRune, args[0]))
		}
		if _, err := io.WriteString(c, reply); err != nil {
			return
		}
	}
}

func printableRune(r rune) rune {
	if r < 0x20 || r >= 0x7f {
		return -1
	}
	return r
}

// readRESP reads one command: a RESP array of bulk strings or an inline
// command line.
func readRESP(r *bufio.Reader) ([]string, error) {
	line, err := r.ReadString('\n')
	if err != nil {
		return nil, err
	}
	line = strings.TrimRight(line, "\r\n")
	if !strings.HasPrefix(line, "*") {
		return strings.Fields(line), nil
	}
	var n int
	if _, err := fmt.Sscanf(line, "*%d", &n); err != nil || n < 0 || n > 64 {
		return nil, fmt.Errorf("bad array header %q", line)
	}
	args := make([]string, 0, n)
	for range n {
		hdr, err := r.ReadString('\n')
		if err != nil {
			return nil, err
		}
		var size int
		if _, err := fmt.Sscanf(hdr, "$%d", &size); err != nil || size < 0 || size > 1<<16 {
			return nil, fmt.Errorf("bad bulk header %q", hdr)
		}
		buf := make([]byte, size+2)
		if _, err := io.ReadFull(r, buf); err != nil {
			return nil, err
		}
		args = append(args, string(buf[:size]))
	}
	return args, nil
}

// servePostgres answers an SSLRequest with 'N' and anything else with a
// FATAL ErrorResponse, as a server does to a startup packet it rejects.
func servePostgres(_ context.Context, c net.Conn) {
	hdr := make([]byte, 8)
	if _, err := io.ReadFull(c, hdr); err != nil {
		return
	}
	if binary.BigEndian.Uint32(hdr[0:]) == 8 && binary.BigEndian.Uint32(hdr[4:]) == 80877103 {
		_, _ = c.Write([]byte{'N'})
		return
	}
	msg := "SFATAL\x00VFATAL\x00C08P01\x00Minvalid length of startup packet\x00\x00"
	out := []byte{'E'}
	out = binary.BigEndian.AppendUint32(out, uint32(4+len(msg))) //nolint:gosec // lab messages are a few hundred bytes
	_, _ = c.Write(append(out, msg...))
}

// serveRDP answers an X.224 connection request with a connection confirm
// selecting CredSSP (PROTOCOL_HYBRID).
func serveRDP(_ context.Context, c net.Conn) {
	hdr := make([]byte, 4)
	if _, err := io.ReadFull(c, hdr); err != nil || hdr[0] != 3 {
		return
	}
	n := int(binary.BigEndian.Uint16(hdr[2:]))
	if n < 4 || n > 1024 {
		return
	}
	if _, err := io.ReadFull(c, make([]byte, n-4)); err != nil {
		return
	}
	_, _ = c.Write([]byte{
		0x03, 0x00, 0x00, 0x13,
		0x0e, 0xd0, 0x00, 0x00, 0x12, 0x34, 0x00,
		0x02, 0x00, 0x08, 0x00, 0x02, 0x00, 0x00, 0x00,
	})
	_, _ = io.Copy(io.Discard, c)
}

// serveMongo answers one OP_MSG with an isMaster-style reply document.
func serveMongo(_ context.Context, c net.Conn) {
	for {
		hdr := make([]byte, 16)
		if _, err := io.ReadFull(c, hdr); err != nil {
			return
		}
		n := int(binary.LittleEndian.Uint32(hdr))
		if n < 16 || n > 1<<20 {
			return
		}
		if _, err := io.ReadFull(c, make([]byte, n-16)); err != nil {
			return
		}
		reqID := binary.LittleEndian.Uint32(hdr[4:])
		doc := bsonDoc(
			bsonBool("ismaster", true),
			bsonBool("isWritablePrimary", true),
			bsonInt32("maxWireVersion", 21),
			bsonInt32("minWireVersion", 0),
			bsonDouble("ok", 1),
		)
		msg := make([]byte, 16+4+1)
		binary.LittleEndian.PutUint32(msg[4:], 7)
		binary.LittleEndian.PutUint32(msg[8:], reqID)
		binary.LittleEndian.PutUint32(msg[12:], 2013)
		msg = append(msg, doc...)
		binary.LittleEndian.PutUint32(msg, uint32(len(msg))) //nolint:gosec // lab messages are a few hundred bytes
		if _, err := c.Write(msg); err != nil {
			return
		}
	}
}

func bsonDoc(elems ...[]byte) []byte {
	n := 5
	for _, e := range elems {
		n += len(e)
	}
	out := binary.LittleEndian.AppendUint32(nil, uint32(n))
	for _, e := range elems {
		out = append(out, e...)
	}
	return append(out, 0)
}

func bsonElem(typ byte, name string, v []byte) []byte {
	out := append([]byte{typ}, name...)
	return append(append(out, 0), v...)
}

func bsonBool(name string, v bool) []byte {
	b := byte(0)
	if v {
		b = 1
	}
	return bsonElem(0x08, name, []byte{b})
}

func bsonInt32(name string, v int32) []byte {
	return bsonElem(0x10, name, binary.LittleEndian.AppendUint32(nil, uint32(v))) //nolint:gosec // BSON int32 is two's complement: the same bits
}

func bsonDouble(name string, v float64) []byte {
	return bsonElem(0x01, name, binary.LittleEndian.AppendUint64(nil, mathFloat64bits(v)))
}
