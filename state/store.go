package state

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/portcullis-sec/portcullis/exposure"
)

// Version is an opaque token of what was loaded: a generation number in
// the directory store, an S3 ETag, a DynamoDB version number. "" means
// nothing is stored.
type Version string

var (
	// ErrConflict is returned by Save when the stored baseline is not the
	// version that was loaded: another run saved in between. Nothing was
	// written; reload, diff again and save again.
	ErrConflict = errors.New("state: the baseline changed since it was loaded")
	// ErrLocked is returned by the directory store when another process
	// held the lock for longer than Save waits.
	ErrLocked = errors.New("state: another run holds the baseline lock")
	// ErrTooLarge is returned when a baseline does not fit the backend
	// (DynamoDB's 400 KB item, even compressed).
	ErrTooLarge = errors.New("state: the baseline is too large for the store")
)

// Store keeps one Baseline per scope (see Partition). Implementations are
// safe for concurrent use by several processes and return ErrConflict,
// never overwrite, when the stored version is not the one given to Save;
// the conformance suite (store_test.go) checks every backend.
type Store interface {
	// Load returns the scope's baseline and its version; with nothing
	// stored, an empty baseline and "".
	Load(ctx context.Context, s exposure.Scope) (*Baseline, Version, error)
	// Save stores b (for b.Scope) if the stored version is still v ("":
	// nothing stored) and returns the new version.
	Save(ctx context.Context, b *Baseline, v Version) (Version, error)
	// Scopes lists the scopes with a stored baseline, sorted.
	Scopes(ctx context.Context) ([]exposure.Scope, error)
}

// Open picks a backend by location: a path or dir://PATH (a local
// directory), s3://bucket/prefix, or dynamodb://table. awsCfg is used by
// the S3 and DynamoDB backends only.
func Open(ctx context.Context, location string, awsCfg aws.Config) (Store, error) {
	scheme, rest, found := strings.Cut(location, "://")
	if !found {
		scheme, rest = "dir", location
	}
	switch scheme {
	case "dir":
		if rest == "" {
			return nil, fmt.Errorf("open state %q: no directory", location)
		}
		return NewDir(rest)
	case "s3":
		bucket, prefix, _ := strings.Cut(rest, "/")
		if bucket == "" {
			return nil, fmt.Errorf("open state %q: no bucket", location)
		}
		return NewS3(awsCfg, bucket, prefix)
	case "dynamodb":
		if rest == "" || strings.Contains(rest, "/") {
			return nil, fmt.Errorf("open state %q: want dynamodb://TABLE", location)
		}
		return NewDynamoDB(awsCfg, rest)
	default:
		return nil, fmt.Errorf("open state %q: unknown scheme %q: want a directory, dir://PATH, s3://BUCKET/PREFIX or dynamodb://TABLE", location, scheme)
	}
}

// checkSave is what every backend checks before writing.
func checkSave(b *Baseline) ([]byte, error) {
	if b == nil {
		return nil, errors.New("save state: nil baseline")
	}
	data, err := b.Encode()
	if err != nil {
		return nil, fmt.Errorf("save state %s: %w", ScopeString(b.Scope), err)
	}
	return data, nil
}

// parseScopeKey reads provider/account[/region] back (the inverse of
// ScopeString), rejecting anything Save would not have written.
func parseScopeKey(k string) (exposure.Scope, bool) {
	parts := strings.Split(k, "/")
	var s exposure.Scope
	switch len(parts) {
	case 2:
		s = exposure.Scope{Provider: parts[0], Account: parts[1]}
	case 3:
		s = exposure.Scope{Provider: parts[0], Account: parts[1], Region: parts[2]}
	default:
		return s, false
	}
	return s, validScope(s) == nil
}

// maxUpdateAttempts bounds Update's retries: each conflict means another
// run saved, so a run that loses this often is fighting many writers.
const maxUpdateAttempts = 20

// Update loads the baseline of s, applies apply to it and saves the
// result; when another run saved in between (ErrConflict) it loads again
// and applies again, up to 20 times with a short random backoff. apply
// must not modify prev and may be called several times; Diff is such a
// function. It returns what was saved and its version.
func Update(ctx context.Context, st Store, s exposure.Scope, apply func(prev *Baseline) (*Baseline, error)) (*Baseline, Version, error) {
	return UpdateFrom(ctx, st, s, nil, "", apply)
}

// UpdateFrom is Update whose first attempt starts from known, a baseline of
// s the caller loaded or saved itself at version v, without reading the
// store again (a run saves each baseline twice: its diff, then what it
// delivered). A conflict means someone saved since: later attempts load, as
// Update does. A nil known makes it Update. apply must not modify its
// argument (Clone it): on a conflict known is still the caller's.
func UpdateFrom(ctx context.Context, st Store, s exposure.Scope, known *Baseline, v Version, apply func(prev *Baseline) (*Baseline, error)) (*Baseline, Version, error) {
	for attempt := 1; ; attempt++ {
		prev := known
		known = nil
		if prev == nil {
			var err error
			if prev, v, err = st.Load(ctx, s); err != nil {
				return nil, "", err
			}
		}
		next, err := apply(prev)
		if err != nil {
			return nil, "", err
		}
		nv, err := st.Save(ctx, next, v)
		if err == nil {
			return next, nv, nil
		}
		if !errors.Is(err, ErrConflict) || attempt == maxUpdateAttempts {
			return nil, "", fmt.Errorf("update state %s (attempt %d): %w", ScopeString(Partition(s)), attempt, err)
		}
		select {
		case <-ctx.Done():
			return nil, "", ctx.Err()
		case <-time.After(time.Duration(rand.Int64N(int64(attempt) * int64(5*time.Millisecond)))): //nolint:gosec // G404: retry jitter, not a secret: math/rand is right
		}
	}
}
