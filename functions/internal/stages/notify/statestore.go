package notify

import (
	"context"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/portcullis-sec/portcullis/exposure"
	"github.com/portcullis-sec/portcullis/state"
)

// openState opens the state named by location. An S3 state is wrapped in
// listedStore: the functions' roles may list the bucket only under the
// state's prefix, and S3 answers a GetObject of a missing key with 403
// Access Denied rather than 404 unless the caller may list the bucket
// (https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html);
// whether a ListBucket grant narrowed by s3:prefix counts for a request
// that carries no prefix is IAM's to decide. A listing answers "absent"
// without that ambiguity, so a scope seen for the first time never reads
// as an error.
func openState(ctx context.Context, location string, cfg aws.Config) (state.Store, error) {
	st, err := state.Open(ctx, location, cfg)
	if err != nil || !strings.HasPrefix(location, "s3://") {
		return st, err
	}
	return &listedStore{Store: st}, nil
}

// listedStore loads only the scopes a listing of the state shows, and
// gives the others an empty baseline without reading them.
type listedStore struct {
	state.Store
	mu     sync.Mutex
	listed map[exposure.Scope]bool
}

// Scopes implements state.Store and remembers the listing.
func (l *listedStore) Scopes(ctx context.Context) ([]exposure.Scope, error) {
	scopes, err := l.Store.Scopes(ctx)
	if err != nil {
		return nil, err
	}
	m := make(map[exposure.Scope]bool, len(scopes))
	for _, s := range scopes {
		m[s] = true
	}
	l.mu.Lock()
	l.listed = m
	l.mu.Unlock()
	return scopes, nil
}

// Load implements state.Store. A scope missing from the last listing is
// listed again before it is taken as absent: another run may have saved
// it since (its first Save is conditioned on absence, so a race ends in
// state.ErrConflict and state.Update loads again).
func (l *listedStore) Load(ctx context.Context, s exposure.Scope) (*state.Baseline, state.Version, error) {
	p := state.Partition(s)
	l.mu.Lock()
	known := l.listed[p]
	l.mu.Unlock()
	if !known {
		if _, err := l.Scopes(ctx); err != nil {
			return nil, "", err
		}
		l.mu.Lock()
		known = l.listed[p]
		l.mu.Unlock()
		if !known {
			return state.NewBaseline(p), "", nil
		}
	}
	return l.Store.Load(ctx, s)
}
