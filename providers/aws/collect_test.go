package aws

import (
	"context"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/portcullis-sec/portcullis/providers"
)

type countingProgress struct{ added, done atomic.Int32 }

func (p *countingProgress) Add(n int)   { p.added.Add(int32(n)) }
func (p *countingProgress) Done(string) { p.done.Add(1) }

// TestCollectRegionFailure denies every EC2 call in one region (a proxy in
// front of moto answers UnauthorizedOperation, as AWS does for a missing
// permission or a disabled region): that region is one error naming the
// API, and the other region is collected.
func TestCollectRegionFailure(t *testing.T) {
	t.Parallel()
	const denied, allowed = "me-south-1", "af-south-1"
	e := newEstate(t, allowed)
	vpc, sn, _ := e.publicVPC("10.150.0.0/16", "10.150.1.0/24")
	_, eni := e.instance(sn, "ok", true, e.securityGroup(vpc, "ssh", tcpFrom(22, 22, "0.0.0.0/0")))

	endpoint := motoProxy(t, func(w http.ResponseWriter, r *http.Request) bool {
		if !strings.Contains(r.Header.Get("Authorization"), "/"+denied+"/ec2/") {
			return false
		}
		w.WriteHeader(http.StatusForbidden)
		_, _ = w.Write([]byte(`<?xml version="1.0" encoding="UTF-8"?><Response><Errors><Error><Code>UnauthorizedOperation</Code><Message>You are not authorized to perform this operation.</Message></Error></Errors><RequestID>1</RequestID></Response>`))
		return true
	})

	c, err := NewCollector(context.Background(), Config{Regions: []string{denied, allowed}, Endpoint: endpoint, Concurrency: 2})
	if err != nil {
		t.Fatal(err)
	}
	snap := providers.NewSnapshot()
	var progress countingProgress
	if err := c.Collect(context.Background(), snap, &progress); err != nil {
		t.Fatal(err)
	}
	if progress.added.Load() != 2 || progress.done.Load() != 2 {
		t.Errorf("progress added %d done %d, want 2 and 2", progress.added.Load(), progress.done.Load())
	}
	errs := snap.Errors()
	if len(errs) != 1 {
		t.Fatalf("errors %v, want one for %s", errs, denied)
	}
	if e := errs[0]; e.Provider != "aws" || e.Account != motoAccount || e.Region != denied || e.Resource != "ec2:DescribeVpcs" ||
		e.Stage != "collect" || !strings.Contains(e.Message, "UnauthorizedOperation") {
		t.Errorf("error %+v", e)
	}
	sub, _ := fs.Sub(snap.FS(), providerName)
	inv, err := Normalize(sub)
	if err != nil {
		t.Fatal(err)
	}
	findTarget(t, inv, eni)
}

// motoProxy starts a loopback proxy in front of moto that lets answer
// reply to a request itself (answer returns true) and passes on the rest;
// it returns the proxy's URL.
func motoProxy(t *testing.T, answer func(http.ResponseWriter, *http.Request) bool) string {
	t.Helper()
	target, err := url.Parse(motoURL)
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(target)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !answer(w, r) {
			proxy.ServeHTTP(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// TestCollectUnreachable: nothing can be collected, so Collect fails.
func TestCollectUnreachable(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.NotFoundHandler())
	srv.Close() // a closed loopback port
	c, err := NewCollector(context.Background(), Config{Regions: []string{"eu-west-1"}, Endpoint: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := c.Collect(ctx, providers.NewSnapshot(), nil); err == nil || !strings.Contains(err.Error(), "get caller identity") {
		t.Errorf("Collect against a closed port: %v", err)
	}
}
