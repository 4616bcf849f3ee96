// Package providers holds what every cloud driver shares: the Driver
// contract and the Snapshot that carries raw API responses from collection
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

// Driver is what a provider promises, declared once so that every list of
// providers (the CLI's --provider check, the serverless plan and collect
// stages, the run store's work-item check, the conformance suite) is the
// one table in audit and the drivers cannot drift apart. Each provider
// package exports one Driver next to its Config; audit pairs it with the
// typed construction of the provider's collector (each Config differs).
// docs/providers/README.md says how a new provider fills it in.
type Driver struct {
	// Name is the provider's name in the model (exposure.ProviderAWS, …):
	// its snapshot directory (DIR/<name>/), its exposure.Scope.Provider and
	// its --provider value. Lower case, unique in the table.
	Name string
	// Title names the cloud for people, in messages and docs.
	Title string
	// Normalize reads the provider's snapshot directory into an inventory.
	// It must accept an empty directory (an inventory with nothing in it,
	// no error): a snapshot that holds a provider with no scope yet.
	Normalize NormalizeFunc
	// Permissions are exactly the read-only actions the collector calls;
	// the deployment templates and docs grant these and no more.
	Permissions []string
	// Regional says what a unit of collection is: an account × region
	// (DIR/<name>/<account>/<region>/) when true; an account, project or
	// subscription collected whole (DIR/<name>/<account>/) when false.
	Regional bool
	// ValidScope checks the identifiers of one unit of collection before
	// they become snapshot paths, object keys, role ARNs or API calls:
	// region is empty unless Regional. The error names the provider, the
	// identifier and the shape it wants.
	ValidScope func(account, region string) error
}

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
