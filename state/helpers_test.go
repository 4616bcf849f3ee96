package state

import (
	"encoding/json"
	"net/netip"

	"github.com/portcullis-sec/portcullis/exposure"
)

// observed is one exposure row of target t admitting sources on ports.
func observed(s exposure.Scope, t string, level exposure.Level, ports exposure.PortRange, sources ...string) Observed {
	k := exposure.Key{Scope: s, Level: level, Target: t, Protocol: exposure.ProtocolTCP}
	if level == exposure.Effective {
		k.Endpoint = "192.0.2.10"
	}
	o := Observed{Key: k, ID: t + ":" + ports.String(), Ports: ports}
	for _, src := range sources {
		o.Sources = append(o.Sources, netip.MustParsePrefix(src))
	}
	return o
}

func mustJSON(t interface{ Fatal(...any) }, b *Baseline) []byte {
	data, err := json.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	return data
}
