// Package faultproxy is a loopback HTTP proxy that injects API faults in
// front of an AWS stand-in (moto_server): throttling, server errors,
// connection resets and delays for a seeded fraction of calls, and denial
// of one API for one resource. Tests only: it listens on 127.0.0.1 and
// forwards only to the loopback URL it is given.
//
// AWS query APIs (EC2, ELB, ELBv2, STS) carry the operation and its
// parameters form-encoded in the POST body (Action=DescribeListeners&
// LoadBalancerArn=…), so a rule matches on those fields.
package faultproxy

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sync"
	"time"
)

// Faults are the transient faults injected, as fractions of calls (0-1).
// Every call draws once from the seeded generator; MaxPerCall bounds how
// often one call (same operation and parameters) is faulted, so that the
// SDK's retries always end in an answer and a run is reproducible in what
// it returns, if not in timing.
type Faults struct {
	Seed       uint64
	Throttle   float64       // 400/503 with the service's throttling code
	ServerErr  float64       // 500 InternalError
	Reset      float64       // the connection is reset before any answer
	Delay      float64       // the call is held for up to MaxDelay first
	MaxDelay   time.Duration // default 50ms
	MaxPerCall int           // default 2
}

// Deny refuses one operation for one resource with AccessDenied (the
// answer IAM gives), every time: Action is the query Action, Param and
// Value a form parameter that must match (empty Param: every call).
type Deny struct {
	Action string
	Param  string
	Value  string
}

// Proxy is a running fault proxy.
type Proxy struct {
	URL string

	srv    *httptest.Server
	mu     sync.Mutex
	rng    *rand.Rand
	faults Faults
	denies []Deny
	counts map[[32]byte]int
	stats  Stats
}

// Stats counts what the proxy did.
type Stats struct {
	Calls, Throttled, ServerErrors, Resets, Delayed, Denied int
}

// New starts a proxy in front of target, which must be a loopback URL.
func New(target string, f Faults, denies ...Deny) (*Proxy, error) {
	u, err := url.Parse(target)
	if err != nil {
		return nil, fmt.Errorf("parse target: %w", err)
	}
	if ip := net.ParseIP(u.Hostname()); ip == nil || !ip.IsLoopback() {
		return nil, fmt.Errorf("target %s is not a loopback address", target)
	}
	if f.MaxDelay <= 0 {
		f.MaxDelay = 50 * time.Millisecond
	}
	if f.MaxPerCall <= 0 {
		f.MaxPerCall = 2
	}
	// A seeded PCG, not crypto/rand: a test replays the same faults from the
	// same seed, and nothing here is a secret.
	p := &Proxy{rng: rand.New(rand.NewPCG(f.Seed, f.Seed^0x9e3779b97f4a7c15)), faults: f, denies: denies, counts: map[[32]byte]int{}} //nolint:gosec // G404: reproducible fault injection needs a seeded generator
	rp := httputil.NewSingleHostReverseProxy(u)
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { p.serve(w, r, rp) }))
	p.URL = p.srv.URL
	return p, nil
}

// Close stops the proxy.
func (p *Proxy) Close() { p.srv.Close() }

// Stats returns what the proxy did so far.
func (p *Proxy) Stats() Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stats
}

type fault int

const (
	none fault = iota
	throttle
	serverErr
	reset
	delay
	denied
)

func (p *Proxy) serve(w http.ResponseWriter, r *http.Request, rp *httputil.ReverseProxy) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, "read body", http.StatusBadRequest)
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	form, _ := url.ParseQuery(string(body))
	action, version := form.Get("Action"), form.Get("Version")
	switch p.decide(r, body, form) {
	case denied:
		writeError(w, version, http.StatusForbidden, accessDenied(version),
			"User: arn:aws:iam::123456789012:user/portcullis is not authorized to perform: "+action)
		return
	case throttle:
		status, code := http.StatusBadRequest, "Throttling"
		if version == ec2Version {
			status, code = http.StatusServiceUnavailable, "RequestLimitExceeded"
		}
		writeError(w, version, status, code, "Rate exceeded")
		return
	case serverErr:
		writeError(w, version, http.StatusInternalServerError, "InternalError", "We encountered an internal error. Please try again.")
		return
	case reset:
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				if tc, ok := conn.(*net.TCPConn); ok {
					_ = tc.SetLinger(0) // RST, not FIN: "connection reset by peer"
				}
				_ = conn.Close()
				return
			}
		}
		writeError(w, version, http.StatusInternalServerError, "InternalError", "reset")
		return
	case delay:
		p.mu.Lock()
		d := time.Duration(p.rng.Int64N(int64(p.faults.MaxDelay)))
		p.mu.Unlock()
		select {
		case <-time.After(d):
		case <-r.Context().Done():
			return
		}
	}
	r.ContentLength = int64(len(body))
	rp.ServeHTTP(w, r)
}

// decide draws the fate of one call.
func (p *Proxy) decide(r *http.Request, body []byte, form url.Values) fault {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stats.Calls++
	for _, d := range p.denies {
		if form.Get("Action") == d.Action && (d.Param == "" || form.Get(d.Param) == d.Value) {
			p.stats.Denied++
			return denied
		}
	}
	key := sha256.Sum256(append([]byte(r.Method+" "+r.URL.Path+"\n"), body...))
	x := p.rng.Float64()
	if p.counts[key] >= p.faults.MaxPerCall {
		return none
	}
	f := p.faults
	var out fault
	switch {
	case x < f.Throttle:
		out, p.stats.Throttled = throttle, p.stats.Throttled+1
	case x < f.Throttle+f.ServerErr:
		out, p.stats.ServerErrors = serverErr, p.stats.ServerErrors+1
	case x < f.Throttle+f.ServerErr+f.Reset:
		out, p.stats.Resets = reset, p.stats.Resets+1
	case x < f.Throttle+f.ServerErr+f.Reset+f.Delay:
		p.stats.Delayed++
		return delay // a delay is not a failure: it does not use up the bound
	default:
		return none
	}
	p.counts[key]++
	return out
}

const ec2Version = "2016-11-15"

func accessDenied(version string) string {
	if version == ec2Version {
		return "UnauthorizedOperation"
	}
	return "AccessDenied"
}

// writeError answers in the service's query error format: EC2's
// <Response><Errors> or the awsquery <ErrorResponse> of ELB, ELBv2 and STS.
func writeError(w http.ResponseWriter, version string, status int, code, msg string) {
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(status)
	if version == ec2Version {
		fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><Response><Errors><Error><Code>%s</Code><Message>%s</Message></Error></Errors><RequestID>faultproxy</RequestID></Response>`, code, msg)
		return
	}
	fmt.Fprintf(w, `<ErrorResponse><Error><Type>Sender</Type><Code>%s</Code><Message>%s</Message></Error><RequestId>faultproxy</RequestId></ErrorResponse>`, code, msg)
}
