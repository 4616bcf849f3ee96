// Package portcullis holds what the whole module shares at its root: the
// embedded demo estate. The program is cmd/portcullis; the stages are the
// packages exposure, providers, rules, probe and reports, wired by audit.
package portcullis

import (
	"embed"
	"io/fs"
)

//go:embed testdata/demo
var demoFiles embed.FS

// DemoEstate is the demo estate `portcullis demo` (and `make demo`)
// audits: a snapshot of a small AWS, GCP and Azure estate whose public
// addresses are all documentation ranges.
func DemoEstate() fs.FS {
	sub, err := fs.Sub(demoFiles, "testdata/demo")
	if err != nil {
		panic(err) // the path is a compile-time constant of this file
	}
	return sub
}
