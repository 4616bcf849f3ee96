//go:build !linux

package lab

import (
	"context"
	"errors"
	"net/netip"
)

func filteredListener(context.Context) (netip.AddrPort, func() error, error) {
	return netip.AddrPort{}, nil, errors.New("the filtered lab service needs Linux (a full accept queue drops SYNs there)")
}
