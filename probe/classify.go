package probe

import (
	"bytes"
	"regexp"
	"strings"

	"github.com/portcullis-sec/portcullis/exposure"
)

// classify names the service that sent b, from the bytes alone: a greeting,
// or the reply to a probe meant for another protocol. It returns "" when
// nothing is recognised. The signatures are the protocols' own first bytes,
// as the RFCs and vendor docs define them.
func classify(b []byte) string {
	switch {
	case len(b) == 0:
		return ""
	case bytes.HasPrefix(b, []byte("SSH-")):
		return "ssh" // RFC 4253 §4.2 identification string
	case bytes.HasPrefix(b, []byte("HTTP/1.")), bytes.HasPrefix(b, []byte("HTTP/2")):
		return "http"
	case bytes.HasPrefix(b, []byte("RFB ")):
		return "vnc" // RFC 6143 §7.1.1 ProtocolVersion
	case isTLSRecord(b):
		return "tls"
	case bytes.HasPrefix(b, []byte("220")), bytes.HasPrefix(b, []byte("421")), bytes.HasPrefix(b, []byte("554")):
		return ftpOrSMTP(b)
	case bytes.HasPrefix(b, []byte("+OK")):
		return "pop3"
	case bytes.HasPrefix(b, []byte("* OK")), bytes.HasPrefix(b, []byte("* PREAUTH")):
		return "imap"
	case bytes.HasPrefix(b, []byte("+PONG")), bytes.HasPrefix(b, []byte("-NOAUTH")), bytes.HasPrefix(b, []byte("-DENIED")),
		bytes.HasPrefix(b, []byte("-ERR")), bytes.HasPrefix(b, []byte("-WRONGPASS")):
		return "redis" // RESP simple strings and errors
	case bytes.HasPrefix(b, []byte("VERSION ")), bytes.Equal(b, []byte("ERROR\r\n")):
		return "memcached"
	case isMySQLGreeting(b):
		return "mysql"
	case isPostgresError(b):
		return "postgresql"
	case len(b) >= 6 && b[0] == 3 && b[1] == 0 && b[5] == 0xd0:
		return "rdp" // TPKT + X.224 connection confirm
	case b[0] == 0xff && len(b) >= 2 && b[1] >= 0xfb && b[1] <= 0xfe:
		return "telnet" // IAC WILL/WONT/DO/DONT option negotiation
	}
	return ""
}

// isTLSRecord recognises a TLS record header: handshake (22) or alert (21)
// with a version 3.x (RFC 8446 §5.1).
func isTLSRecord(b []byte) bool {
	return len(b) >= 5 && (b[0] == 22 || b[0] == 21) && b[1] == 3 && b[2] <= 4
}

var (
	ftpWords  = regexp.MustCompile(`(?i)\bftp|filezilla|pure-ftpd|proftpd|vsftpd`)
	smtpWords = regexp.MustCompile(`(?i)\besmtp\b|\bsmtp\b|postfix|exim|sendmail|\bmail\b|mx\b|exchange`)
)

// ftpOrSMTP tells FTP from SMTP greetings: both start "220 " (RFC 959
// §4.2, RFC 5321 §4.2). The greeting text usually names one of them; a
// plain "220 ready" stays ambiguous and is left to the port's expectation.
func ftpOrSMTP(b []byte) string {
	line := firstLine(b)
	switch {
	case ftpWords.MatchString(line):
		return "ftp"
	case smtpWords.MatchString(line):
		return "smtp"
	}
	return "ftp-or-smtp"
}

// isMySQLGreeting recognises a MySQL/MariaDB packet with sequence 0 whose
// payload is a protocol-10 handshake or an error packet (0xff) — MySQL
// sends the latter first to hosts it does not accept.
// https://dev.mysql.com/doc/dev/mysql-server/latest/page_protocol_connection_phase_packets_protocol_handshake_v10.html
func isMySQLGreeting(b []byte) bool {
	if len(b) < 6 || b[3] != 0 {
		return false
	}
	n := int(b[0]) | int(b[1])<<8 | int(b[2])<<16
	if n < 2 || n > 1<<16 {
		return false
	}
	switch b[4] {
	case 10:
		end := bytes.IndexByte(b[5:], 0)
		return end > 0 && isText(b[5:5+end])
	case 0xff:
		return len(b) >= 7
	}
	return false
}

// isPostgresError recognises a PostgreSQL ErrorResponse ('E', length, then
// fields such as 'S' severity), what a server sends to a startup packet it
// cannot parse. https://www.postgresql.org/docs/current/protocol-message-formats.html
func isPostgresError(b []byte) bool {
	if len(b) < 7 || b[0] != 'E' || b[1] != 0 {
		return false
	}
	for _, sev := range []string{"SFATAL\x00", "SERROR\x00", "VFATAL\x00"} {
		if bytes.Contains(b[5:], []byte(sev)) {
			return true
		}
	}
	return false
}

// WellKnown returns the service conventionally found on a port (IANA
// service names, plus the ports the big databases and tools default to),
// or "". It is a hint for ordering probes, never an answer.
func WellKnown(p exposure.Protocol, port uint16) string {
	switch p {
	case exposure.ProtocolTCP:
		return wellKnownTCP[port]
	case exposure.ProtocolUDP:
		return wellKnownUDP[port]
	}
	return ""
}

var wellKnownTCP = map[uint16]string{
	21: "ftp", 22: "ssh", 23: "telnet", 25: "smtp", 80: "http", 110: "pop3",
	143: "imap", 443: "https", 465: "smtps", 587: "smtp", 990: "ftps",
	993: "imaps", 995: "pop3s", 2375: "docker", 2376: "docker-tls",
	2379: "etcd", 3000: "http", 3306: "mysql", 3389: "rdp", 5432: "postgresql",
	5601: "kibana", 5900: "vnc", 5901: "vnc", 5902: "vnc", 5984: "couchdb",
	6379: "redis", 6443: "kubernetes", 8000: "http", 8008: "http", 8080: "http",
	8443: "https", 8888: "http", 9200: "elasticsearch", 10250: "kubelet",
	11211: "memcached", 15672: "rabbitmq-management", 27017: "mongodb",
	27018: "mongodb",
}

var wellKnownUDP = map[uint16]string{
	53: "dns", 123: "ntp", 161: "snmp", 11211: "memcached",
}

// protocolFor maps a service name (the catalog's or WellKnown's) to the
// prober that speaks its wire protocol.
func protocolFor(service string) string {
	s := strings.ToLower(strings.TrimSpace(service))
	switch s {
	case "postgres", "postgresql", "pgsql":
		return "postgresql"
	case "mariadb", "mysql":
		return "mysql"
	case "mongo", "mongodb":
		return "mongodb"
	case "ms-wbt-server", "rdp":
		return "rdp"
	case "vnc", "rfb":
		return "vnc"
	case "http", "http-alt", "docker", "elasticsearch", "kibana", "couchdb", "rabbitmq-management", "www":
		return "http"
	case "https", "tls", "ssl", "smtps", "imaps", "pop3s", "ftps", "ldaps", "docker-tls", "kubernetes", "kubelet", "etcd":
		return "tls"
	case "ssh", "ftp", "smtp", "redis", "memcached", "dns", "domain", "ntp", "snmp":
		if s == "domain" {
			return "dns"
		}
		return s
	}
	return s
}
