package state

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	dtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/portcullis-sec/portcullis/exposure"
	"github.com/portcullis-sec/portcullis/internal/awsx"
	"github.com/portcullis-sec/portcullis/internal/mototest"
)

// motoURL is moto_server's address, set by TestMain.
var motoURL string

func TestMain(m *testing.M) {
	// The crash test re-executes this binary as the writer it kills.
	if dir := os.Getenv(crashWriterEnv); dir != "" {
		os.Exit(crashWriter(dir))
	}
	os.Exit(mototest.Main(m, false, &motoURL))
}

// atomicMoto is a loopback proxy in front of moto that forwards one write
// at a time. S3 conditional writes and DynamoDB condition expressions are
// atomic in AWS (the check and the write are one operation), but moto
// checks the ETag or the condition and then writes, unlocked, in a
// threaded server: two concurrent conditional writes can both pass, which
// would make the concurrent-writers test fail for the emulator's sake.
// Serializing the writes restores the guarantee AWS documents; the store
// still meets real conflicts (412, ConditionalCheckFailed) and retries.
var atomicMoto = sync.OnceValue(func() string {
	target, err := url.Parse(motoURL)
	if err != nil {
		panic(err) // motoURL is set by TestMain
	}
	rp := httputil.NewSingleHostReverseProxy(target)
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut || strings.HasSuffix(r.Header.Get("X-Amz-Target"), ".PutItem") {
			mu.Lock()
			defer mu.Unlock()
		}
		rp.ServeHTTP(w, r)
	}))
	return srv.URL // closed when the test binary exits
})

func motoConfig(t testing.TB) aws.Config {
	t.Helper()
	cfg, err := config.LoadDefaultConfig(context.Background(), config.WithBaseEndpoint(atomicMoto()), config.WithRegion("us-east-1"))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// backend opens a fresh, empty store of one kind through Open, as the CLI
// and the functions do.
type backend struct {
	name string
	open func(t *testing.T) Store
}

var seq atomic.Int64

func backends() []backend {
	return []backend{
		{"dir", func(t *testing.T) Store {
			st, err := Open(context.Background(), filepath.Join(t.TempDir(), "state"), aws.Config{})
			if err != nil {
				t.Fatal(err)
			}
			return st
		}},
		{"s3", func(t *testing.T) Store {
			cfg := motoConfig(t)
			bucket := fmt.Sprintf("state-%d", seq.Add(1))
			if _, err := awsx.NewS3(cfg).CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: &bucket}); err != nil {
				t.Fatal(err)
			}
			st, err := Open(context.Background(), "s3://"+bucket+"/portcullis/state", cfg)
			if err != nil {
				t.Fatal(err)
			}
			return st
		}},
		{"dynamodb", func(t *testing.T) Store {
			cfg := motoConfig(t)
			table := fmt.Sprintf("state-%d", seq.Add(1))
			_, err := dynamodb.NewFromConfig(cfg).CreateTable(context.Background(), &dynamodb.CreateTableInput{
				TableName:            &table,
				AttributeDefinitions: []dtypes.AttributeDefinition{{AttributeName: aws.String("pk"), AttributeType: dtypes.ScalarAttributeTypeS}},
				KeySchema:            []dtypes.KeySchemaElement{{AttributeName: aws.String("pk"), KeyType: dtypes.KeyTypeHash}},
				BillingMode:          dtypes.BillingModePayPerRequest,
			})
			if err != nil {
				t.Fatal(err)
			}
			st, err := Open(context.Background(), "dynamodb://"+table, cfg)
			if err != nil {
				t.Fatal(err)
			}
			return st
		}},
	}
}

var (
	scopeA = exposure.Scope{Provider: "aws", Account: "111122223333", Region: "eu-west-1"}
	scopeB = exposure.Scope{Provider: "aws", Account: "111122223333", Region: "us-east-1"}
	scopeG = exposure.Scope{Provider: "gcp", Account: "demo-project"}
)

// sample is a baseline of n entries in s.
func sample(s exposure.Scope, runID string, n int) *Baseline {
	obs := make([]Observed, n)
	for i := range obs {
		obs[i] = observed(s, fmt.Sprintf("i-%05d", i), exposure.Effective, exposure.PortRange{From: 22, To: 22}, "0.0.0.0/0")
	}
	b, _ := Diff(nil, &Run{Scope: s, RunID: runID, Exposures: obs}, time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC))
	return b
}

func TestStoreConformance(t *testing.T) {
	ctx := context.Background()
	for _, be := range backends() {
		t.Run(be.name, func(t *testing.T) {
			t.Run("load empty", func(t *testing.T) {
				st := be.open(t)
				b, v, err := st.Load(ctx, scopeA)
				if err != nil {
					t.Fatal(err)
				}
				if v != "" || b == nil || len(b.Entries) != 0 || b.Scope != scopeA {
					t.Fatalf("empty load = %+v, %q; want an empty baseline of %v and version \"\"", b, v, scopeA)
				}
				scopes, err := st.Scopes(ctx)
				if err != nil || len(scopes) != 0 {
					t.Fatalf("Scopes of an empty store = %v, %v", scopes, err)
				}
			})
			t.Run("round trip", func(t *testing.T) {
				st := be.open(t)
				want := sample(scopeA, "run-1", 3)
				want.Entries[1].Outbox.Add(New, "run-1", want.Updated)
				v, err := st.Save(ctx, want, "")
				if err != nil {
					t.Fatal(err)
				}
				if v == "" {
					t.Fatal("Save returned an empty version")
				}
				got, v2, err := st.Load(ctx, scopeA)
				if err != nil {
					t.Fatal(err)
				}
				if v2 != v {
					t.Errorf("Load version %q, Save returned %q", v2, v)
				}
				a, _ := want.Encode()
				b, _ := got.Encode()
				if string(a) != string(b) {
					t.Errorf("round trip changed the baseline:\nsaved  %s\nloaded %s", a, b)
				}
				// The other scope is still empty.
				if o, ov, err := st.Load(ctx, scopeB); err != nil || ov != "" || len(o.Entries) != 0 {
					t.Errorf("another scope after a save: %d entries, version %q, %v", len(o.Entries), ov, err)
				}
			})
			t.Run("conflict never overwrites", func(t *testing.T) {
				st := be.open(t)
				v1, err := st.Save(ctx, sample(scopeA, "run-1", 1), "")
				if err != nil {
					t.Fatal(err)
				}
				// A second first write loses.
				if _, err := st.Save(ctx, sample(scopeA, "run-x", 5), ""); !errors.Is(err, ErrConflict) {
					t.Fatalf("second first write: %v, want ErrConflict", err)
				}
				v2, err := st.Save(ctx, sample(scopeA, "run-2", 2), v1)
				if err != nil {
					t.Fatal(err)
				}
				if v2 == v1 {
					t.Fatalf("version did not change: %q", v2)
				}
				// A writer still holding v1 is refused.
				if _, err := st.Save(ctx, sample(scopeA, "run-stale", 9), v1); !errors.Is(err, ErrConflict) {
					t.Fatalf("stale write: %v, want ErrConflict", err)
				}
				got, v, err := st.Load(ctx, scopeA)
				if err != nil {
					t.Fatal(err)
				}
				if got.RunID != "run-2" || len(got.Entries) != 2 || v != v2 {
					t.Fatalf("after refused writes: run %q, %d entries, version %q; want run-2, 2, %q", got.RunID, len(got.Entries), v, v2)
				}
			})
			t.Run("concurrent writers lose nothing", func(t *testing.T) {
				st := &countingStore{Store: be.open(t)}
				const writers, each = 4, 5
				var wg sync.WaitGroup
				errs := make(chan error, writers)
				for w := range writers {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for i := range each {
							if err := addEntry(ctx, st, scopeA, fmt.Sprintf("w%d-%d", w, i)); err != nil {
								errs <- err
								return
							}
						}
					}()
				}
				wg.Wait()
				close(errs)
				for err := range errs {
					t.Fatal(err)
				}
				got, _, err := st.Load(ctx, scopeA)
				if err != nil {
					t.Fatal(err)
				}
				if len(got.Entries) != writers*each {
					t.Fatalf("%d entries after %d updates: updates were lost", len(got.Entries), writers*each)
				}
				// The test means something only if writers did collide.
				t.Logf("%d conflicts", st.conflicts.Load())
				if st.conflicts.Load() == 0 {
					t.Log("no conflict happened this time; the conflict subtest covers the refusal")
				}
			})
			t.Run("scopes lists what was saved", func(t *testing.T) {
				st := be.open(t)
				for _, s := range []exposure.Scope{scopeG, scopeB, scopeA} {
					if _, err := st.Save(ctx, sample(s, "run-1", 1), ""); err != nil {
						t.Fatal(err)
					}
				}
				got, err := st.Scopes(ctx)
				if err != nil {
					t.Fatal(err)
				}
				want := []exposure.Scope{scopeA, scopeB, scopeG}
				if !slices.Equal(got, want) {
					t.Fatalf("Scopes = %v, want %v", got, want)
				}
			})
			t.Run("invalid scope", func(t *testing.T) {
				st := be.open(t)
				for _, s := range []exposure.Scope{
					{Provider: "aws", Account: "..", Region: "x"},
					{Provider: "aws", Account: "1/../../etc", Region: "x"},
					{Provider: "", Account: "1"},
				} {
					if _, _, err := st.Load(ctx, s); err == nil {
						t.Errorf("Load(%+v) accepted an invalid scope", s)
					}
					b := NewBaseline(scopeA)
					b.Scope = s
					if _, err := st.Save(ctx, b, ""); err == nil {
						t.Errorf("Save(%+v) accepted an invalid scope", s)
					}
				}
			})
		})
	}
}

// addEntry is a run's update through Update: the entries stored plus one.
func addEntry(ctx context.Context, st Store, s exposure.Scope, target string) error {
	_, _, err := Update(ctx, st, s, func(b *Baseline) (*Baseline, error) {
		obs := []Observed{}
		for _, e := range b.Entries {
			obs = append(obs, observed(s, e.Key.Target, exposure.Effective, exposure.PortRange{From: 22, To: 22}, "0.0.0.0/0"))
		}
		obs = append(obs, observed(s, target, exposure.Effective, exposure.PortRange{From: 22, To: 22}, "0.0.0.0/0"))
		next, _ := Diff(b, &Run{Scope: s, RunID: target, Exposures: obs}, time.Now())
		return next, nil
	})
	return err
}

func TestOpenLocations(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	for _, tc := range []struct {
		loc  string
		want string // type name, or "" for an error
		err  string
	}{
		{filepath.Join(dir, "a"), "*state.Dir", ""},
		{"dir://" + filepath.Join(dir, "b"), "*state.Dir", ""},
		{"s3://bucket/prefix", "*state.S3", ""},
		{"s3://bucket", "*state.S3", ""},
		{"dynamodb://table", "*state.DynamoDB", ""},
		{"gs://bucket/x", "", "unknown scheme"},
		{"s3:///prefix", "", "no bucket"},
		{"dynamodb://", "", "want dynamodb://TABLE"},
		{"dynamodb://a/b", "", "want dynamodb://TABLE"},
		{"", "", "no directory"},
	} {
		t.Run(tc.loc, func(t *testing.T) {
			st, err := Open(ctx, tc.loc, aws.Config{Region: "us-east-1"})
			if tc.want == "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("Open(%q) = %T, %v; want an error saying %q", tc.loc, st, err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := fmt.Sprintf("%T", st); got != tc.want {
				t.Fatalf("Open(%q) is %s, want %s", tc.loc, got, tc.want)
			}
		})
	}
}

// countingStore counts the conflicts Save returns.
type countingStore struct {
	Store
	conflicts atomic.Int64
}

func (c *countingStore) Save(ctx context.Context, b *Baseline, v Version) (Version, error) {
	nv, err := c.Store.Save(ctx, b, v)
	if errors.Is(err, ErrConflict) {
		c.conflicts.Add(1)
	}
	return nv, err
}

// TestDynamoDBTooLarge: a baseline that does not fit one item even
// compressed is refused with ErrTooLarge, and nothing is written.
func TestDynamoDBTooLarge(t *testing.T) {
	ctx := context.Background()
	st := backends()[2].open(t)
	b := sample(scopeA, "run-big", 5000)
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range b.Entries {
		for range 10 {
			b.Entries[i].ExposureIDs = append(b.Entries[i].ExposureIDs, fmt.Sprintf("%016x%016x", rng.Uint64(), rng.Uint64()))
		}
	}
	_, err := st.Save(ctx, b, "")
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("Save of a huge baseline: %v, want ErrTooLarge", err)
	}
	if !strings.Contains(err.Error(), "5000 entries") {
		t.Errorf("error does not say how big: %v", err)
	}
	if _, v, err := st.Load(ctx, scopeA); err != nil || v != "" {
		t.Fatalf("after the refused save: version %q, %v; want nothing stored", v, err)
	}
}

// TestS3ScopesIgnoresOtherObjects: a bucket shared with the run store
// (no prefix) holds other objects; Scopes lists baselines only.
func TestS3ScopesIgnoresOtherObjects(t *testing.T) {
	ctx := context.Background()
	cfg := motoConfig(t)
	bucket := fmt.Sprintf("shared-%d", seq.Add(1))
	client := awsx.NewS3(cfg)
	if _, err := client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: &bucket}); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"runs/2026/report.json", "aws/111122223333/eu-west-1.json.bak", "notes.json", "aws/../x.json"} {
		if _, err := client.PutObject(ctx, &s3.PutObjectInput{Bucket: &bucket, Key: aws.String(k), Body: strings.NewReader("{}")}); err != nil {
			t.Fatal(err)
		}
	}
	st, err := Open(ctx, "s3://"+bucket, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Save(ctx, sample(scopeA, "r", 1), ""); err != nil {
		t.Fatal(err)
	}
	got, err := st.Scopes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, []exposure.Scope{scopeA}) {
		t.Fatalf("Scopes = %v, want only %v", got, scopeA)
	}
}
