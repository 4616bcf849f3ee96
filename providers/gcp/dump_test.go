package gcp

import (
	"fmt"
	"os"
	"testing"

	"go4.org/netipx"

	"github.com/portcullis-sec/portcullis/exposure"
)

func TestDump(t *testing.T) {
	inv, err := Normalize(os.DirFS("testdata/estate"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range inv.Errors {
		fmt.Println("ERR", e)
	}
	res := exposure.Analyze(inv)
	for _, e := range res.Effective {
		b := ""
		if e.Backend != nil {
			b = fmt.Sprintf(" -> %s %s", e.Backend.Name, e.Backend.Ports)
		}
		fmt.Printf("E %s %s %s/%s %v%s\n", e.Target.Name, e.Endpoint, e.Protocol, e.Ports, src(e.Sources), b)
	}
	for _, e := range res.Latent {
		fmt.Printf("L %s %s/%s %v\n", e.Target.ID, e.Protocol, e.Ports, src(e.Sources))
	}
	for _, e := range res.Errors {
		fmt.Println("AERR", e)
	}
}

func src(s *netipx.IPSet) string {
	if exposure.SourceBreadth(s) == exposure.BreadthAnyone {
		return "any"
	}
	return fmt.Sprint(exposure.Addrs(s))
}
