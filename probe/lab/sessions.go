package lab

import (
	"math"
	"net"
	"sync"
)

// sessionSet tracks a listener's open connections so Close can end them.
type sessionSet struct {
	mu    sync.Mutex
	conns map[net.Conn]struct{}
}

func (s *sessionSet) add(c net.Conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conns == nil {
		s.conns = map[net.Conn]struct{}{}
	}
	s.conns[c] = struct{}{}
}

func (s *sessionSet) remove(c net.Conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.conns, c)
	_ = c.Close()
}

func (s *sessionSet) closeAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		_ = c.Close()
	}
}

func mathFloat64bits(f float64) uint64 { return math.Float64bits(f) }
