package audit_test

import (
	"io/fs"
	"math/rand"
	"sort"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/portcullis-sec/portcullis/audit"
	"github.com/portcullis-sec/portcullis/demo"
	"github.com/portcullis-sec/portcullis/exposure"
)

// demoFiles lists the demo estate's files, sorted: the fuzzer picks one by
// index and replaces its content.
func demoFiles(t testing.TB) (fs.FS, []string) {
	fsys := demo.Estate()
	var names []string
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && len(p) > 5 && p[len(p)-5:] == ".json" {
			names = append(names, p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(names)
	return fsys, names
}

// FuzzNormalize replaces one file of the demo snapshot (any provider) with
// arbitrary bytes and runs normalization and analysis: whatever the file
// holds, the result is errors in the inventory, never a panic.
// make fuzz runs it for longer; make test runs the seeds.
func FuzzNormalize(f *testing.F) {
	fsys, names := demoFiles(f)
	for i, n := range names {
		b, err := fs.ReadFile(fsys, n)
		if err != nil {
			f.Fatal(err)
		}
		if i%7 == 0 { // a sample of real files as seeds; the fuzzer mutates from there
			f.Add(uint16(i), b)
		}
	}
	f.Add(uint16(0), []byte(`{"SecurityGroups":[{"GroupId":"sg-1","IpPermissions":[{"IpProtocol":"tcp","FromPort":-5,"ToPort":70000}]}]}`))
	f.Add(uint16(1), []byte(`[{"name":"x","sourceRanges":["300.1.1.1/33"],"allowed":[{"IPProtocol":"tcp","ports":["22-1"]}]}]`))
	f.Add(uint16(2), []byte(`{"value":[{"id":"/x","properties":{"securityRules":[{"properties":{"priority":"high","protocol":"Foo"}}]}}]}`))
	f.Add(uint16(3), []byte("\x00\xff{"))
	// The snapshot of each provider, loaded once: an execution normalizes
	// only the provider of the file it replaces.
	byProvider := map[string]fstest.MapFS{}
	for _, n := range names {
		b, _ := fs.ReadFile(fsys, n)
		p := strings.SplitN(n, "/", 2)[0]
		if byProvider[p] == nil {
			byProvider[p] = fstest.MapFS{}
		}
		byProvider[p][n] = &fstest.MapFile{Data: b}
	}
	f.Fuzz(func(t *testing.T, pick uint16, data []byte) {
		name := names[int(pick)%len(names)]
		p := strings.SplitN(name, "/", 2)[0]
		m := make(fstest.MapFS, len(byProvider[p]))
		for k, v := range byProvider[p] {
			m[k] = v
		}
		m[name] = &fstest.MapFile{Data: data}
		inv, _, err := audit.Normalize(m, []string{p})
		if err != nil {
			t.Fatalf("Normalize returned an error instead of inventory errors: %v", err)
		}
		exposure.Analyze(inv)
	})
}

// TestNormalizeSurvivesMutations is the fuzzer's job done deterministically
// in every `make test`: 400 seeded random corruptions (flipped bytes,
// truncations, digits where text was) of the demo snapshot's files, each
// normalized and analyzed. Any panic fails the test; each run must also
// finish quickly (a pathological input would show as a timeout of the
// whole package).
func TestNormalizeSurvivesMutations(t *testing.T) {
	fsys, names := demoFiles(t)
	byProvider := map[string]map[string][]byte{}
	for _, n := range names {
		b, _ := fs.ReadFile(fsys, n)
		p := strings.SplitN(n, "/", 2)[0]
		if byProvider[p] == nil {
			byProvider[p] = map[string][]byte{}
		}
		byProvider[p][n] = b
	}
	rng := rand.New(rand.NewSource(20261124))
	// Normalize and Analyze run on one goroutine here, so the race detector
	// adds nothing but a tenfold slowdown: under it (make test) the first
	// 100 of the same seeded mutations run; `go test ./audit` and make fuzz
	// cover the rest.
	n := 400
	if raceEnabled {
		n = 100
	}
	for i := 0; i < n; i++ {
		name := names[rng.Intn(len(names))]
		p := strings.SplitN(name, "/", 2)[0]
		m := fstest.MapFS{}
		for n, b := range byProvider[p] {
			m[n] = &fstest.MapFile{Data: b}
		}
		b := append([]byte(nil), byProvider[p][name]...)
		for k := 0; k < 1+rng.Intn(4) && len(b) > 0; k++ {
			j := rng.Intn(len(b))
			switch rng.Intn(3) {
			case 0:
				b[j] = byte(rng.Intn(256))
			case 1:
				b = b[:j]
			default:
				b[j] = "0123456789-"[rng.Intn(11)]
			}
		}
		m[name] = &fstest.MapFile{Data: b}
		inv, _, err := audit.Normalize(m, []string{p})
		if err != nil || inv == nil {
			t.Fatalf("mutation %d of %s: Normalize failed instead of reporting inventory errors: %v", i, name, err)
		}
		exposure.Analyze(inv)
	}
}
