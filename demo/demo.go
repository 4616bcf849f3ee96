// Package demo holds the demo estate that `portcullis demo` (and `make
// demo`) audits: a snapshot of a small AWS, GCP and Azure estate whose
// public addresses are all documentation ranges (estate/README.md). It is
// data: it imports nothing of the module, and outside tests only the faces
// (cmd/*, functions/*) use it.
package demo

import (
	"embed"
	"io/fs"
)

//go:embed estate
var files embed.FS

// Estate is the demo estate, one directory per provider at its root, in the
// layout of a collected snapshot (`audit --snapshot`).
func Estate() fs.FS {
	sub, err := fs.Sub(files, "estate")
	if err != nil {
		panic(err) // the path is a compile-time constant of this file
	}
	return sub
}
