package rules

import (
	"errors"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/portcullis-sec/portcullis/exposure"
)

// Exception accepts findings on purpose: it matches findings by provider,
// account, region, resource, rule and port (globs with * and ?), says why,
// who owns the decision, and until when.
type Exception struct {
	Provider string `yaml:"provider,omitempty" json:"provider,omitempty"`
	Account  string `yaml:"account,omitempty" json:"account,omitempty"`
	Region   string `yaml:"region,omitempty" json:"region,omitempty"`
	// Resource matches the target's ID, name or owner, the backend's ID,
	// or the ID of any layer in the evidence (a security group, an NSG).
	Resource string `yaml:"resource,omitempty" json:"resource,omitempty"`
	Rule     string `yaml:"rule,omitempty" json:"rule,omitempty"`
	// Port is a port or range ("22", "8000-8999"); a finding about a
	// range is covered only when the exception's range holds all of it.
	Port    string `yaml:"port,omitempty" json:"port,omitempty"`
	Reason  string `yaml:"reason" json:"reason"`
	Owner   string `yaml:"owner" json:"owner"`
	Expires string `yaml:"expires" json:"expires"` // YYYY-MM-DD, valid through that day (UTC)
	// Source is where the exception is written (file:line).
	Source string `yaml:"-" json:"source"`

	match   map[string]*regexp.Regexp
	ports   exposure.PortRange
	hasPort bool
	until   time.Time // the first instant the exception no longer holds
}

// ExceptionState says what became of an exception in a run.
type ExceptionState string

const (
	// ExceptionExpired: past its expiry date; the findings it matched
	// are reported again.
	ExceptionExpired ExceptionState = "expired"
	// ExceptionStale: active but matched no finding; the exposure it was
	// written for is gone (or the exception is mistyped).
	ExceptionStale ExceptionState = "stale"
)

// ExceptionStatus reports an expired or stale exception.
type ExceptionStatus struct {
	Exception Exception      `json:"exception"`
	State     ExceptionState `json:"state"`
	// Matched counts the findings the exception matched (for expired
	// exceptions: the findings that resurfaced).
	Matched int `json:"matched"`
}

type exceptionsFile struct {
	Exceptions []Exception `yaml:"exceptions"`
}

func loadExceptions(path string, ruleIDs map[string]bool) ([]*Exception, error) {
	data, err := os.ReadFile(path) //nolint:gosec // G304: the exceptions file the user named (Options.ExceptionsFile); reading it is the point
	if err != nil {
		return nil, fmt.Errorf("read exceptions: %w", err)
	}
	ex, err := parseExceptions(path, data, ruleIDs)
	if err != nil {
		return nil, fmt.Errorf("load exceptions: %w", err)
	}
	return ex, nil
}

func parseExceptions(name string, data []byte, ruleIDs map[string]bool) ([]*Exception, error) {
	var ef exceptionsFile
	f, err := decodeYAML(name, data, &ef)
	if err != nil {
		return nil, err
	}
	var out []*Exception
	var errs []error
	for i := range ef.Exceptions {
		x := ef.Exceptions[i]
		x.Source = f.itemPos("exceptions", i)
		if xerrs := x.compile(ruleIDs); len(xerrs) > 0 {
			for _, err := range xerrs {
				errs = append(errs, fmt.Errorf("%s: exception: %w", x.Source, err))
			}
			continue
		}
		out = append(out, &x)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return out, nil
}

// compile validates the exception and prepares its matchers; it returns
// every problem found.
func (x *Exception) compile(ruleIDs map[string]bool) []error {
	var errs []error
	if strings.TrimSpace(x.Reason) == "" {
		errs = append(errs, errors.New("reason is required"))
	}
	if strings.TrimSpace(x.Owner) == "" {
		errs = append(errs, errors.New("owner is required"))
	}
	if x.Expires == "" {
		errs = append(errs, errors.New("expires (YYYY-MM-DD) is required"))
	} else if d, err := time.Parse(time.DateOnly, x.Expires); err != nil {
		errs = append(errs, fmt.Errorf("expires %q is not a YYYY-MM-DD date", x.Expires))
	} else {
		x.until = d.AddDate(0, 0, 1)
	}
	if x.Rule == "" && x.Resource == "" {
		errs = append(errs, errors.New("name a rule or a resource: an exception must not cover every finding"))
	}
	if x.Rule != "" && !strings.ContainsAny(x.Rule, "*?") && !ruleIDs[x.Rule] {
		errs = append(errs, fmt.Errorf("rule %q is neither a catalog nor a custom rule", x.Rule))
	}
	if x.Provider != "" && !strings.ContainsAny(x.Provider, "*?") && !slices.Contains(exposure.Providers(), x.Provider) {
		errs = append(errs, fmt.Errorf("provider %q: want one of %s", x.Provider, strings.Join(exposure.Providers(), ", ")))
	}
	if x.Port != "" {
		pr, err := exposure.ParsePortRange(x.Port)
		if err != nil {
			errs = append(errs, fmt.Errorf("port: %w", err))
		}
		x.ports, x.hasPort = pr, true
	}
	x.match = map[string]*regexp.Regexp{}
	for field, pattern := range map[string]string{"provider": x.Provider, "account": x.Account, "region": x.Region, "resource": x.Resource, "rule": x.Rule} {
		if pattern != "" {
			x.match[field] = globRegexp(pattern)
		}
	}
	return errs
}

// globRegexp turns a glob (* any run of characters, including "/" in
// ARNs and Azure resource IDs; ? one character) into an anchored,
// case-insensitive regexp: Azure resource IDs are case-insensitive.
func globRegexp(glob string) *regexp.Regexp {
	var b strings.Builder
	b.WriteString("(?is)^")
	for _, r := range glob {
		switch r {
		case '*':
			b.WriteString(".*")
		case '?':
			b.WriteString(".")
		default:
			b.WriteString(regexp.QuoteMeta(string(r)))
		}
	}
	b.WriteString("$")
	return regexp.MustCompile(b.String())
}

// matches reports whether the exception covers a finding (whatever its
// expiry).
func (x *Exception) matches(f *Finding) bool {
	e := f.Exposure
	fields := map[string][]string{
		"provider": {e.Provider},
		"account":  {e.Account},
		"region":   {e.Region},
		"rule":     {f.RuleID},
		"resource": resourceNames(e),
	}
	for field, re := range x.match {
		ok := false
		for _, v := range fields[field] {
			if v != "" && re.MatchString(v) {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	if x.hasPort {
		if f.Port != 0 {
			return x.ports.Contains(f.Port)
		}
		svc := e.Ports
		if e.Backend != nil {
			svc = e.Backend.Ports
		}
		return x.ports.From <= svc.From && x.ports.To >= svc.To
	}
	return true
}

// resourceNames lists the names an exception's resource may match.
func resourceNames(e *exposure.Exposure) []string {
	names := []string{e.Target.ID, e.Target.Name, e.Target.Owner}
	if e.Backend != nil {
		names = append(names, e.Backend.ID, e.Backend.Name)
	}
	for _, ev := range e.Evidence {
		names = append(names, ev.Layer, ev.LayerName)
	}
	return names
}

// expired reports whether the exception no longer holds at now.
func (x *Exception) expired(now time.Time) bool { return !now.Before(x.until) }

func (x *Exception) suppression() *Suppression {
	return &Suppression{Reason: x.Reason, Owner: x.Owner, Expires: x.Expires, Source: x.Source}
}
