package probe

import (
	"context"
	"net"
	"testing"
	"time"
)

// FuzzParsers feeds arbitrary bytes to every parser of peer input: none may
// panic, whatever a hostile server sends. Run longer with
// go test -fuzz FuzzParsers ./probe.
func FuzzParsers(f *testing.F) {
	f.Add([]byte("SSH-2.0-OpenSSH_9.6\r\n"))
	f.Add([]byte("\x4a\x00\x00\x00\x0a8.0.36\x00"))
	f.Add([]byte("\x05\x00\x00\x00\xff\x6a\x04"))
	f.Add(mongoHello(1))
	f.Add(snmpDiscovery(7))
	f.Add(dnsQuery(7))
	f.Add(ntpRequest(7))
	f.Add([]byte("E\x00\x00\x00\x10SFATAL\x00"))
	f.Add([]byte{0x03, 0x00, 0x00, 0x13, 0x0e, 0xd0, 0, 0, 0, 0, 0, 0x02, 0, 8, 0, 2, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		_ = classify(b)
		_, _ = bsonTop(b)
		for _, u := range udpProbers {
			_ = u.parse(b, 7)
		}
		_ = printable(b, 64)
		if len(printable(b, 64)) > 64 {
			t.Fatal("printable exceeds its cap")
		}
		// The server-first probers parse a greeting already read.
		s := &session{p: &Prober{cfg: Config{MaxBytes: 4096, Timeout: time.Millisecond}}, banner: b}
		for _, name := range []string{"ssh", "ftp", "smtp", "mysql", "vnc"} {
			_, _ = tcpProbers[name].run(context.Background(), s)
		}
	})
}

// TestClientFirstParsersOnGarbage: client-first probers given a peer that
// answers garbage return "not this protocol" rather than a wrong match.
func TestClientFirstParsersOnGarbage(t *testing.T) {
	for _, name := range []string{"redis", "postgresql", "mongodb", "rdp", "memcached", "http", "tls"} {
		t.Run(name, func(t *testing.T) {
			client, server := net.Pipe()
			defer client.Close()
			go func() {
				defer server.Close()
				buf := make([]byte, 1024)
				_, _ = server.Read(buf)
				_, _ = server.Write([]byte("\x00\x01garbage that is no protocol\r\n"))
			}()
			s := &session{p: &Prober{cfg: Config{MaxBytes: 4096, Timeout: 300 * time.Millisecond, UserAgent: "t"}}}
			s.rec = &recorder{Conn: client, max: 4096}
			s.conn = s.rec
			fp, _ := tcpProbers[name].run(t.Context(), s)
			if fp != nil {
				t.Errorf("%s recognised garbage as %+v", name, fp)
			}
		})
	}
}
