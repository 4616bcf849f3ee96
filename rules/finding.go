package rules

import "github.com/portcullis-sec/portcullis/exposure"

// ComplianceRef points at one control of one framework.
type ComplianceRef struct {
	Framework string `json:"framework"` // cis-aws, cis-gcp, cis-azure, pci-dss, nist-800-53, soc2
	Control   string `json:"control"`   // e.g. "5.2", "1.3.1", "SC-7"
}

// Finding is a catalog rule applied to one exposure.
type Finding struct {
	// ID is stable across runs: the rule, the exposure's ID and the port.
	ID       string   `json:"id"`
	RuleID   string   `json:"ruleId"`
	Title    string   `json:"title"`
	Severity Severity `json:"severity"`
	// Service is what the rule protects (ssh, rdp, mysql…).
	Service     string          `json:"service,omitempty"`
	Compliance  []ComplianceRef `json:"compliance,omitempty"`
	Remediation string          `json:"remediation,omitempty"`
	// Exposure is the exposure the rule matched (never nil).
	Exposure *exposure.Exposure `json:"-"`
	// Port is the port the rule matched: the backend port where a forward
	// translates ports, otherwise the exposure's port. Zero for rules about
	// a whole range.
	Port uint16 `json:"port,omitempty"`
	// Suppressed is set when an exception covers the finding.
	Suppressed *Suppression `json:"suppressed,omitempty"`
	// Expired is set when an exception matched the finding but has
	// expired: the finding is reported again and says why.
	Expired *Suppression `json:"expiredException,omitempty"`
	// Probe is the observation that confirmed or contradicted the
	// exposure on Port, when there was one.
	Probe *exposure.Observation `json:"probe,omitempty"`
	// MatchedBy says how the rule matched: "port" (the port number),
	// "backend-port" (the port a forward translates to), "service" (a
	// probe fingerprinted the rule's service on the port), "range" or
	// "protocol" (structural rules), "expression" (custom rules).
	MatchedBy string `json:"matchedBy,omitempty"`
	// Subsumes lists the port rules a structural finding (all ports, a
	// wide range, all protocols) covers instead of reporting each one.
	Subsumes []string `json:"subsumes,omitempty"`
	// Custom marks findings of user-defined (CEL) rules.
	Custom bool `json:"custom,omitempty"`
}

// Suppression records the exception that covers a finding.
type Suppression struct {
	Reason  string `json:"reason"`
	Owner   string `json:"owner,omitempty"`
	Expires string `json:"expires,omitempty"` // YYYY-MM-DD
	// Source is where the exception is written (file:line).
	Source string `json:"source,omitempty"`
}
