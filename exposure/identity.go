package exposure

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
)

// Key identifies one exposure across runs without its ports: the same
// endpoint, protocol and forward keep one Key while the ports (or the
// sources) that get through change, so that a rule widened from 22 to 22-23
// is "widened" rather than "one resolved and one new". Several exposures of
// one run share a Key when the analysis cut a target's ports into ranges
// (where the admitting rules change); the Key's port set is their union.
//
// The fields and their meaning are a published contract (docs/state.md):
// baselines written by one release are read by the next.
type Key struct {
	Scope
	Level Level `json:"level"`
	// Target is the target's ID, or the layer's ID for a latent exposure.
	Target string `json:"target"`
	// Endpoint is the address or host name traffic is sent to; empty for a
	// latent exposure.
	Endpoint string   `json:"endpoint,omitempty"`
	Protocol Protocol `json:"protocol"`
	// Forward is the listener, load-balancing or NAT rule that carries the
	// traffic on; empty without a forward.
	Forward string `json:"forward,omitempty"`
	// Backend is the ID of the backend the forward delivers to.
	Backend string `json:"backend,omitempty"`
}

// Key returns the exposure's port-less identity.
func (e *Exposure) Key() Key {
	k := Key{Level: e.Level, Protocol: e.Protocol}
	if e.Site != nil {
		k.Scope, k.Target, k.Endpoint = e.Scope, e.Target.ID, e.Endpoint.String()
	}
	if e.Backend != nil {
		k.Forward, k.Backend = e.Backend.Forward, e.Backend.ID
	}
	return k
}

// String is a readable, unambiguous rendering of the key, used in logs
// and as the sort order of baselines.
func (k Key) String() string {
	parts := []string{string(k.Level), k.Provider, k.Account, k.Region, k.Target, k.Endpoint, k.Protocol.String()}
	if k.Forward != "" || k.Backend != "" {
		parts = append(parts, k.Forward, k.Backend)
	}
	return strings.Join(parts, "|")
}

// Hash is a short stable digest of the key (16 hex digits), for storage
// keys and message deduplication.
func (k Key) Hash() string {
	h := sha256.New()
	w := func(s string) { h.Write([]byte(s)); h.Write([]byte{0}) }
	w(string(k.Level))
	w(k.Provider)
	w(k.Account)
	w(k.Region)
	w(k.Target)
	w(k.Endpoint)
	w(k.Protocol.String())
	w(k.Forward)
	w(k.Backend)
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// Compare orders keys by scope, level, target, endpoint, protocol, forward
// and backend.
func (k Key) Compare(o Key) int {
	return cmp.Or(
		strings.Compare(k.Provider, o.Provider), strings.Compare(k.Account, o.Account),
		strings.Compare(k.Region, o.Region), strings.Compare(string(k.Level), string(o.Level)),
		strings.Compare(k.Target, o.Target), strings.Compare(k.Endpoint, o.Endpoint),
		cmp.Compare(k.Protocol, o.Protocol), strings.Compare(k.Forward, o.Forward),
		strings.Compare(k.Backend, o.Backend),
	)
}

// ID returns a stable identifier of the exposure: the same exposure (the
// same Key and ports) gets the same ID in every run. The hash input is
// unchanged since the first release, so report IDs stay stable.
func (e *Exposure) ID() string {
	h := sha256.New()
	w := func(s string) { h.Write([]byte(s)); h.Write([]byte{0}) }
	w(string(e.Level))
	w(e.Provider)
	w(e.Account)
	w(e.Region)
	w(e.Target.ID)
	w(e.Endpoint.String())
	w(e.Protocol.String())
	w(e.Ports.String())
	if e.Backend != nil {
		w(e.Backend.Forward)
		w(e.Backend.ID)
		w(strconv.Itoa(int(e.Backend.Ports.From)))
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}
