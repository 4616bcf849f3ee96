package mototest

import (
	"bytes"
	"context"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// OrgAccount is a member account to create: its name and the path of the
// organizational unit it goes in ("" for the root, "workloads/inner" for
// OU inner under OU workloads).
type OrgAccount struct{ Name, OU string }

// Organization is an AWS Organization created in moto, managed by Account.
type Organization struct {
	Root     string
	OUs      map[string]string // OU path → ID
	Accounts map[string]string // account name → ID
	url      string
}

// NewOrganization creates an organization (moto holds one per server, so
// once per test binary) with the member accounts given, their OUs created
// on the way.
func NewOrganization(t testing.TB, motoURL string, accounts []OrgAccount) *Organization {
	t.Helper()
	ctx := context.Background()
	org := organizations.NewFromConfig(Config(motoURL))
	if _, err := org.CreateOrganization(ctx, &organizations.CreateOrganizationInput{}); err != nil {
		t.Fatalf("create organization: %v", err)
	}
	roots, err := org.ListRoots(ctx, &organizations.ListRootsInput{})
	if err != nil || len(roots.Roots) != 1 {
		t.Fatalf("list roots: %v %v", roots, err)
	}
	o := &Organization{Root: aws.ToString(roots.Roots[0].Id), OUs: map[string]string{}, Accounts: map[string]string{}, url: motoURL}
	ou := func(path string) string {
		parent := o.Root
		for i, name := range strings.Split(path, "/") {
			p := strings.Join(strings.Split(path, "/")[:i+1], "/")
			if id, ok := o.OUs[p]; ok {
				parent = id
				continue
			}
			out, err := org.CreateOrganizationalUnit(ctx, &organizations.CreateOrganizationalUnitInput{Name: aws.String(name), ParentId: aws.String(parent)})
			if err != nil {
				t.Fatalf("create OU %s: %v", p, err)
			}
			parent = aws.ToString(out.OrganizationalUnit.Id)
			o.OUs[p] = parent
		}
		return parent
	}
	for _, a := range accounts {
		out, err := org.CreateAccount(ctx, &organizations.CreateAccountInput{AccountName: aws.String(a.Name), Email: aws.String(a.Name + "@example.com")})
		if err != nil {
			t.Fatalf("create account %s: %v", a.Name, err)
		}
		id := aws.ToString(out.CreateAccountStatus.AccountId)
		o.Accounts[a.Name] = id
		if a.OU != "" {
			if _, err := org.MoveAccount(ctx, &organizations.MoveAccountInput{AccountId: aws.String(id),
				SourceParentId: aws.String(o.Root), DestinationParentId: aws.String(ou(a.OU))}); err != nil {
				t.Fatalf("move account %s: %v", a.Name, err)
			}
		}
	}
	return o
}

// Close closes a member account (SUSPENDED: no longer ACTIVE).
func (o *Organization) Close(t testing.TB, name string) {
	t.Helper()
	if _, err := organizations.NewFromConfig(Config(o.url)).CloseAccount(context.Background(),
		&organizations.CloseAccountInput{AccountId: aws.String(o.Accounts[name])}); err != nil {
		t.Fatalf("close account %s: %v", name, err)
	}
}

// In returns a configuration whose credentials act in the member account
// (moto files the resources of an assumed role's credentials under the
// role's account), to seed that account's resources.
func (o *Organization) In(t testing.TB, account, region string) aws.Config {
	t.Helper()
	out, err := sts.NewFromConfig(Config(o.url)).AssumeRole(context.Background(), &sts.AssumeRoleInput{
		RoleArn: aws.String("arn:aws:iam::" + account + ":role/OrganizationAccountAccessRole"), RoleSessionName: aws.String("seed")})
	if err != nil {
		t.Fatalf("assume into %s: %v", account, err)
	}
	c := out.Credentials
	cfg := Config(o.url)
	cfg.Region = region
	cfg.Credentials = credentials.NewStaticCredentialsProvider(aws.ToString(c.AccessKeyId), aws.ToString(c.SecretAccessKey), aws.ToString(c.SessionToken))
	return cfg
}

// Config is a configuration of the management account (moto's dummy
// credentials) against moto.
func Config(motoURL string) aws.Config {
	return aws.Config{Region: "us-east-1", BaseEndpoint: aws.String(motoURL),
		Credentials: credentials.NewStaticCredentialsProvider("testing", "testing", "")}
}

// Request is what a Proxy saw of one request.
type Request struct {
	Account, Region, Service string // from the SigV4 credential scope; Account from the access key
	Action                   string // the Query protocol's Action, or the JSON protocol's X-Amz-Target operation
	RoleARN, ExternalID      string // sts:AssumeRole's RoleArn and ExternalId
}

// Proxy is a loopback reverse proxy in front of moto. moto's STS assumes
// any role ARN, existing or not, with any or no external ID ("the role does
// not need to exist", its AssumeRole says), so the proxy stands in for a
// member account whose role does not trust the caller: it answers
// sts:AssumeRole of any role in a Deny account with the AccessDenied error
// STS returns then (HTTP 403, the Query protocol's ErrorResponse).
// https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRole.html#API_AssumeRole_Errors
type Proxy struct {
	URL string

	mu      sync.Mutex
	keys    map[string]string // access key ID → account, learnt from AssumeRole responses
	observe func(Request) func()
}

var credentialScope = regexp.MustCompile(`Credential=([^/]+)/\d{8}/([^/]+)/([^/]+)/aws4_request`)

// NewProxy starts a Proxy that denies sts:AssumeRole into the deny
// accounts. observe, when set, is told of every request before it is
// passed on and the function it returns is called when moto has answered.
func NewProxy(t testing.TB, motoURL string, deny []string, observe func(Request) func()) *Proxy {
	t.Helper()
	target, err := url.Parse(motoURL)
	if err != nil {
		t.Fatal(err)
	}
	p := &Proxy{keys: map[string]string{"testing": Account}, observe: observe}
	type roleKey struct{}
	rp := httputil.NewSingleHostReverseProxy(target)
	rp.ModifyResponse = func(resp *http.Response) error {
		account, ok := resp.Request.Context().Value(roleKey{}).(string)
		if !ok || resp.StatusCode != http.StatusOK {
			return nil
		}
		body, err := io.ReadAll(resp.Body)
		_ = resp.Body.Close() // read to the end already; the body is replaced below
		if err != nil {
			return err
		}
		resp.Body = io.NopCloser(bytes.NewReader(body))
		var out struct {
			AccessKeyID string `xml:"AssumeRoleResult>Credentials>AccessKeyId"`
		}
		if err := xml.Unmarshal(body, &out); err == nil && out.AccessKeyID != "" {
			p.mu.Lock()
			p.keys[out.AccessKeyID] = account
			p.mu.Unlock()
		}
		return nil
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		req := Request{Action: r.Header.Get("X-Amz-Target")}
		if i := strings.LastIndex(req.Action, "."); i >= 0 {
			req.Action = req.Action[i+1:]
		}
		form, _ := url.ParseQuery(string(body))
		if a := form.Get("Action"); a != "" {
			req.Action = a
		}
		if m := credentialScope.FindStringSubmatch(r.Header.Get("Authorization")); m != nil {
			p.mu.Lock()
			req.Account = p.keys[m[1]]
			p.mu.Unlock()
			req.Region, req.Service = m[2], m[3]
		}
		if req.Service == "sts" && req.Action == "AssumeRole" {
			role := form.Get("RoleArn")
			req.RoleARN, req.ExternalID = role, form.Get("ExternalId")
			account := ""
			if f := strings.Split(role, ":"); len(f) >= 5 {
				account = f[4]
			}
			for _, d := range deny {
				if account == d {
					w.Header().Set("Content-Type", "text/xml")
					w.WriteHeader(http.StatusForbidden)
					fmt.Fprintf(w, `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>User: arn:aws:iam::%s:user/moto is not authorized to perform: sts:AssumeRole on resource: %s</Message></Error><RequestId>c6104cbe-af31-11e0-8154-cbc7ccf896c7</RequestId></ErrorResponse>`,
						Account, xmlEscape(role))
					return
				}
			}
			r = r.WithContext(context.WithValue(r.Context(), roleKey{}, account))
		}
		if p.observe != nil {
			defer p.observe(req)()
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	p.URL = srv.URL
	return p
}

func xmlEscape(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}
