// Package providers holds what every cloud driver shares: the Driver
// interface and the Snapshot that carries raw API responses from collection
// to normalization.
//
// A live audit collects into an in-memory Snapshot and normalizes from it; an
// offline audit normalizes a snapshot directory. Both run the same
// normalization code, so a snapshot audits exactly as the live run did.
package providers

import (
	"context"
	"io/fs"

	"github.com/portcullis-sec/portcullis/exposure"
)

// Collector fetches one provider's raw API responses into a snapshot.
//
// Collect records partial failures (one region, project or API that failed)
// with snap.AddError and carries on; it returns an error only when nothing
// could be collected at all (no credentials, context cancelled).
type Collector interface {
	Collect(ctx context.Context, snap *Snapshot, progress Progress) error
}

// NormalizeFunc turns one provider's part of a snapshot (the fs.FS is rooted
// at the provider's directory, e.g. DIR/aws) into an inventory. Bad files are
// reported as inventory errors naming file and resource; the rest is kept.
type NormalizeFunc func(fsys fs.FS) (*exposure.Inventory, error)

// Progress receives collection progress; implementations must be safe for
// concurrent use. NoProgress discards it.
type Progress interface {
	// Add announces n more units of work.
	Add(n int)
	// Done marks one unit finished; what says which (e.g. "aws 123 eu-west-1").
	Done(what string)
}

// NoProgress is a Progress that discards everything.
type NoProgress struct{}

func (NoProgress) Add(int)     {}
func (NoProgress) Done(string) {}
