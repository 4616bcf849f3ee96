//go:build linux

package lab

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"syscall"
	"time"
)

// filteredListener makes a loopback port that drops SYNs, as a firewall
// DROP rule would, without root: a socket listening with a backlog of 0
// whose accept queue is filled by one connection and never drained. Linux
// drops a SYN when the listener's accept queue is full (tcp_conn_request,
// net.ipv4.tcp_abort_on_overflow=0 by default), so a client's connect
// sees no answer and times out.
func filteredListener(ctx context.Context) (netip.AddrPort, func() error, error) {
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return netip.AddrPort{}, nil, fmt.Errorf("filtered listener socket: %w", err)
	}
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		_ = syscall.Close(fd)
		return netip.AddrPort{}, nil, fmt.Errorf("filtered listener bind: %w", err)
	}
	if err := syscall.Listen(fd, 0); err != nil {
		_ = syscall.Close(fd)
		return netip.AddrPort{}, nil, fmt.Errorf("filtered listener listen: %w", err)
	}
	// The *os.File owns fd from here on: closing fd with syscall.Close
	// would leave the File's finalizer to close the same number again
	// later, when it may belong to another test's socket.
	f := os.NewFile(uintptr(fd), "lab-filtered")
	ln, err := net.FileListener(f)
	_ = f.Close() // FileListener dup'ed it
	if err != nil {
		return netip.AddrPort{}, nil, fmt.Errorf("filtered listener: %w", err)
	}
	addr := netip.MustParseAddrPort(ln.Addr().String())
	d := net.Dialer{Timeout: time.Second}
	filler, err := d.DialContext(ctx, "tcp", addr.String())
	if err != nil {
		_ = ln.Close()
		return netip.AddrPort{}, nil, fmt.Errorf("fill filtered listener's queue: %w", err)
	}
	return addr, func() error {
		_ = filler.Close()
		return ln.Close()
	}, nil
}
