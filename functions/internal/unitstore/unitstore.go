// Package unitstore keeps the unit results of a run in the runs bucket:
// the collect function writes its unit's (Put), the report stage reads
// them back in unit order, a few at a time (Units). It is apart from
// runstore so that the functions that never see a unit result (plan,
// notify) do not link the audit's packages.
package unitstore

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"iter"
	"slices"
	"testing/fstest"

	"golang.org/x/sync/errgroup"

	"github.com/portcullis-sec/portcullis/audit/unitresult"
	"github.com/portcullis-sec/portcullis/exposure"
	"github.com/portcullis-sec/portcullis/functions/internal/runstore"
	"github.com/portcullis-sec/portcullis/providers"
)

// unitsDir holds one unit result per work item:
// runs/<run-id>/units/<provider>/<account>[/<region>].json.gz.
const unitsDir = "units"

// Key is the key of a work item's unit result.
func Key(run string, it runstore.Item) string {
	parts := []string{unitsDir, it.Provider, it.Account}
	if it.Region != "" {
		parts = append(parts, it.Region)
	}
	return runstore.Key(run, parts...) + ".json.gz"
}

// Snapshot is the snapshot of one work item as runstore's PutSnapshot keeps it:
// the files under the item's own provider/account/ directory, and an
// errors.json with the snapshot's errors and one for every file left out.
// It is what the collect function analyses into its unit result, so the
// result describes exactly what the run's snapshot holds of the unit.
func Snapshot(it runstore.Item, snap *providers.Snapshot) (fs.FS, error) {
	all := snap.FS()
	out := fstest.MapFS{}
	names, errs := runstore.Kept(it, snap)
	for _, name := range names {
		b, err := fs.ReadFile(all, name)
		if err != nil {
			return nil, fmt.Errorf("read %s of %s: %w", name, it, err)
		}
		out[name] = &fstest.MapFile{Data: b, Mode: 0o644}
	}
	if len(errs) > 0 {
		b, err := json.Marshal(errs)
		if err != nil {
			return nil, fmt.Errorf("encode errors of %s: %w", it, err)
		}
		out[providers.ErrorsFile] = &fstest.MapFile{Data: b, Mode: 0o644}
	}
	return out, nil
}

// Put writes a work item's unit result and returns its size.
func Put(ctx context.Context, s *runstore.Store, run string, it runstore.Item, r *unitresult.Result) (int, error) {
	var b bytes.Buffer
	if err := unitresult.Encode(&b, r); err != nil {
		return 0, err
	}
	return b.Len(), s.Put(ctx, Key(run, it), unitresult.ContentType, b.Bytes())
}

// Units reads the unit results of items, in (provider, account, region)
// order, fetching up to Concurrency of them at once and holding at most
// twice that many decoded ahead of the consumer: the report stage merges
// them as they come and never holds the run's results all at once.
//
// An item without a result (its collect task failed for good or timed
// out), or whose result cannot be decoded (another release wrote it), is
// yielded as a result holding only an error that says so: the scope is not
// in the report, and the report says why. An error is yielded only when
// the bucket cannot be read. Equal source sets are shared between the
// results (unitresult.Sets).
func Units(ctx context.Context, s *runstore.Store, run string, items []runstore.Item) iter.Seq2[*unitresult.Result, error] {
	return func(yield func(*unitresult.Result, error) bool) {
		items := slices.Clone(items)
		slices.SortFunc(items, func(a, b runstore.Item) int {
			return cmp.Or(cmp.Compare(a.Provider, b.Provider), cmp.Compare(a.Account, b.Account), cmp.Compare(a.Region, b.Region))
		})
		items = slices.Compact(items)
		conc := max(s.Concurrency, 1)
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		type fetched struct {
			r   *unitresult.Result
			err error
		}
		slots := make([]chan fetched, len(items))
		for i := range slots {
			slots[i] = make(chan fetched, 1)
		}
		room := make(chan struct{}, 2*conc)
		sets := &unitresult.Sets{}
		g, gctx := errgroup.WithContext(ctx)
		g.SetLimit(conc + 1) // the fetches and the loop that starts them
		g.Go(func() error {
			for i, it := range items {
				select {
				case room <- struct{}{}:
				case <-gctx.Done():
					return nil
				}
				g.Go(func() error {
					r, err := unit(gctx, s, run, it, sets)
					slots[i] <- fetched{r, err}
					return nil
				})
			}
			return nil
		})
		defer func() { _ = g.Wait() }() // only cancellation ends it early; errors travel in the slots
		for i := range items {
			var f fetched
			select {
			case f = <-slots[i]:
			case <-ctx.Done():
				yield(nil, ctx.Err())
				return
			}
			<-room
			if !yield(f.r, f.err) || f.err != nil {
				cancel()
				return
			}
		}
	}
}

// unit fetches and decodes one item's result.
func unit(ctx context.Context, s *runstore.Store, run string, it runstore.Item, sets *unitresult.Sets) (*unitresult.Result, error) {
	scope := exposure.Scope{Provider: it.Provider, Account: it.Account, Region: it.Region}
	key := Key(run, it)
	b, err := s.Get(ctx, key)
	switch {
	case errors.Is(err, runstore.ErrNotFound):
		return &unitresult.Result{Unit: scope, CollectErrors: []exposure.Error{{Scope: scope, Stage: "collect",
			Message: "no result from the collect task (it failed or timed out): this scope is not in the report"}}}, nil
	case err != nil:
		return nil, err
	}
	r, err := unitresult.DecodeShared(bytes.NewReader(b), sets)
	if err != nil {
		return &unitresult.Result{Unit: scope, CollectErrors: []exposure.Error{{Scope: scope, Stage: "collect", Resource: key,
			Message: "unreadable unit result, this scope is not in the report: " + err.Error()}}}, nil
	}
	if r.Unit != scope {
		return &unitresult.Result{Unit: scope, CollectErrors: []exposure.Error{{Scope: scope, Stage: "collect", Resource: key,
			Message: fmt.Sprintf("the unit result is of %s %s %s, not of this scope: not in the report", r.Unit.Provider, r.Unit.Account, r.Unit.Region)}}}, nil
	}
	return r, nil
}
