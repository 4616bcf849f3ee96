package reports

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/portcullis-sec/portcullis/exposure"
	"github.com/portcullis-sec/portcullis/rules"
)

// AWS Security Finding Format, the format of AWS Security Hub's
// BatchImportFindings.
// https://docs.aws.amazon.com/securityhub/latest/userguide/securityhub-findings-format-syntax.html
//
// BatchImportFindings takes at most 100 findings a call, and with the
// default product ARN only findings whose AwsAccountId is the calling
// account, sent to the region of the ProductArn:
// https://docs.aws.amazon.com/securityhub/1.0/APIReference/API_BatchImportFindings.html
// So findings are grouped into batches of one account and one region, at
// most 100 each. The file format (--format asff) is JSON Lines: one batch,
// a JSON array, per line, each line a valid --findings value for
// `aws securityhub batch-import-findings` in that account and region (a
// report with a single batch is therefore a plain JSON array file).

// asffBatchSize is BatchImportFindings' limit of findings per call.
const asffBatchSize = 100

// asffMaxFindingBytes bounds one encoded finding. Security Hub refuses a
// finding above 240 KB; a finding here stays far below it, its tags
// dropped if they alone would push it past this bound.
const asffMaxFindingBytes = 64 << 10

// ASFF limits on resource tags and other maps, in characters.
// https://docs.aws.amazon.com/securityhub/latest/userguide/asff-resources.html
const (
	asffMaxTags     = 50
	asffMaxTagKey   = 128
	asffMaxTagValue = 256
)

// ASFFOptions says under which AWS account and region the findings go.
type ASFFOptions struct {
	// Account is the AWS account that calls BatchImportFindings (the
	// audit account). When set, every finding goes under it: findings of
	// other AWS accounts keep their resources' ARNs, and GCP and Azure
	// findings become resources of type Other carrying the cloud's
	// resource ID (ProductFields portcullis/Provider, Account, Region name
	// where they really are). When empty, AWS findings stay under their
	// own accounts (one batch per account and region, to import from each
	// account) and GCP and Azure findings are skipped: Security Hub has no
	// account to file them under.
	Account string
	// Region is the Security Hub region of findings outside AWS; default
	// us-east-1.
	Region string
}

// ASFFBatch is the findings of one BatchImportFindings call: one account,
// one region, at most 100 findings, each an encoded ASFF finding.
type ASFFBatch struct {
	Account  string
	Region   string
	Findings []json.RawMessage
}

// ASFFSkip is a finding that could not be written in ASFF, and why.
type ASFFSkip struct {
	FindingID string
	Provider  string
	Account   string
	Reason    string
}

// ASFFFindingID is the Security Hub finding Id of a finding: the upsert
// key of BatchImportFindings, stable across runs as long as the finding's
// ID is (rule, exposure, port).
func ASFFFindingID(f *Finding) string {
	e := f.Exposure
	return ASFFID(e.Provider, e.Account, e.Region, f.ID)
}

// ASFFID is ASFFFindingID from the finding's report ID and its
// exposure's provider, account and region: what the state keeps of a
// finding no longer in the report, to archive it.
func ASFFID(provider, account, region, findingID string) string {
	if provider == exposure.ProviderAWS {
		return clipID(or(region, "us-east-1")+"/"+account+"/portcullis/"+findingID, asffMaxID)
	}
	return clipID(provider+"/"+account+"/portcullis/"+findingID, asffMaxID)
}

// asffMaxID is the most characters of a finding's Id, GeneratorId and
// Resources[].Id.
// https://docs.aws.amazon.com/securityhub/1.0/APIReference/API_AwsSecurityFinding.html
const asffMaxID = 512

// clipID shortens an identifier to n characters without making two of
// them equal: a longer one keeps its first characters and ends with a
// hash of the whole ("~" and 16 hex digits). An Id is the upsert key of
// BatchImportFindings, so a plain cut could merge two findings.
func clipID(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	sum := sha256.Sum256([]byte(s))
	return string([]rune(s)[:n-17]) + "~" + hex.EncodeToString(sum[:8])
}

type asffFinding struct {
	SchemaVersion string            `json:"SchemaVersion"`
	ID            string            `json:"Id"`
	ProductArn    string            `json:"ProductArn"`
	ProductName   string            `json:"ProductName"`
	CompanyName   string            `json:"CompanyName"`
	GeneratorID   string            `json:"GeneratorId"`
	AwsAccountID  string            `json:"AwsAccountId"`
	Region        string            `json:"Region"`
	Types         []string          `json:"Types"`
	CreatedAt     string            `json:"CreatedAt"`
	UpdatedAt     string            `json:"UpdatedAt"`
	Severity      asffSeverity      `json:"Severity"`
	Title         string            `json:"Title"`
	Description   string            `json:"Description"`
	Remediation   *asffRemediation  `json:"Remediation,omitempty"`
	ProductFields map[string]string `json:"ProductFields"`
	Resources     []asffResource    `json:"Resources"`
	Network       *asffNetwork      `json:"Network,omitempty"`
	Compliance    *asffCompliance   `json:"Compliance,omitempty"`
	Workflow      asffWorkflow      `json:"Workflow"`
	RecordState   string            `json:"RecordState"`
	Note          *asffNote         `json:"Note,omitempty"`
}

type asffSeverity struct {
	Label    string `json:"Label"`
	Original string `json:"Original"`
}

type asffRemediation struct {
	Recommendation struct {
		Text string `json:"Text"`
	} `json:"Recommendation"`
}

type asffResource struct {
	Type      string               `json:"Type"`
	ID        string               `json:"Id"`
	Partition string               `json:"Partition"`
	Region    string               `json:"Region"`
	Tags      map[string]string    `json:"Tags,omitempty"`
	Details   *asffResourceDetails `json:"Details,omitempty"`

	omittedTags int
}

type asffResourceDetails struct {
	Other map[string]string `json:"Other,omitempty"`
}

type asffNetwork struct {
	Direction         string         `json:"Direction"`
	Protocol          string         `json:"Protocol,omitempty"`
	OpenPortRange     *asffPortRange `json:"OpenPortRange,omitempty"`
	DestinationIPV4   string         `json:"DestinationIpV4,omitempty"`
	DestinationIPV6   string         `json:"DestinationIpV6,omitempty"`
	DestinationDomain string         `json:"DestinationDomain,omitempty"`
}

type asffPortRange struct {
	Begin int `json:"Begin"`
	End   int `json:"End"`
}

type asffCompliance struct {
	Status              string   `json:"Status"`
	RelatedRequirements []string `json:"RelatedRequirements,omitempty"`
}

type asffWorkflow struct {
	Status string `json:"Status"`
}

type asffNote struct {
	Text      string `json:"Text"`
	UpdatedBy string `json:"UpdatedBy"`
	UpdatedAt string `json:"UpdatedAt"`
}

// partitionOf derives the AWS partition from a region name.
func partitionOf(region string) string {
	switch {
	case strings.HasPrefix(region, "cn-"):
		return "aws-cn"
	case strings.HasPrefix(region, "us-gov-"):
		return "aws-us-gov"
	case strings.HasPrefix(region, "us-iso-"):
		return "aws-iso"
	case strings.HasPrefix(region, "us-isob-"):
		return "aws-iso-b"
	}
	return "aws"
}

// asffResourceType maps target kinds onto Security Hub resource types and
// the ARN resource path used to build an ARN from a bare ID.
// https://docs.aws.amazon.com/securityhub/latest/userguide/asff-resources.html
func asffResourceType(kind, id string) (typ, arnPath string) {
	switch {
	case kind == exposure.KindInterface || strings.HasPrefix(id, "eni-"):
		return "AwsEc2NetworkInterface", "network-interface/"
	case kind == exposure.LayerSecurityGroup || strings.HasPrefix(id, "sg-"):
		return "AwsEc2SecurityGroup", "security-group/"
	case kind == exposure.LayerNetworkACL || strings.HasPrefix(id, "acl-"):
		return "AwsEc2NetworkAcl", "network-acl/"
	case kind == exposure.KindInstance || strings.HasPrefix(id, "i-"):
		return "AwsEc2Instance", "instance/"
	case kind == exposure.KindLoadBalancer && strings.Contains(id, ":loadbalancer/app/"),
		kind == exposure.KindLoadBalancer && strings.Contains(id, ":loadbalancer/net/"),
		kind == exposure.KindLoadBalancer && strings.Contains(id, ":loadbalancer/gwy/"):
		return "AwsElbv2LoadBalancer", ""
	case kind == exposure.KindLoadBalancer:
		return "AwsElbLoadBalancer", "" // classic ELBs are named, not ARNs
	}
	return "Other", ""
}

func asffSeverityLabel(s rules.Severity) string {
	if s == rules.Info {
		return "INFORMATIONAL"
	}
	return strings.ToUpper(s.String())
}

// clip shortens s to n characters (ASFF limits Title to 256, Description
// to 1024, recommendation text to 512).
func clip(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n-1]) + "…"
}

func writeASFF(w io.Writer, d *Document) error {
	batches, _, err := ASFF(d, ASFFOptions{})
	if err != nil {
		return err
	}
	for _, b := range batches {
		if err := writeASFFBatch(w, b); err != nil {
			return err
		}
	}
	return nil
}

// writeASFFBatch writes one batch as one line of JSON Lines.
func writeASFFBatch(w io.Writer, b ASFFBatch) error {
	var buf bytes.Buffer
	buf.WriteByte('[')
	for i, f := range b.Findings {
		if i > 0 {
			buf.WriteByte(',')
		}
		buf.Write(f)
	}
	buf.WriteString("]\n")
	_, err := w.Write(buf.Bytes())
	return err
}

// ASFFSkipWarning says in one sentence what ASFF output left out, or ""
// when nothing was: skipped findings are never dropped silently.
func ASFFSkipWarning(skipped []ASFFSkip) string {
	if len(skipped) == 0 {
		return ""
	}
	byProvider := map[string]int{}
	for _, s := range skipped {
		byProvider[s.Provider]++
	}
	var parts []string
	for _, p := range slices.Sorted(maps.Keys(byProvider)) {
		parts = append(parts, plural(byProvider[p], p+" finding"))
	}
	return fmt.Sprintf("ASFF: %s not written: %s", strings.Join(parts, ", "), skipped[0].Reason)
}

// skipNoAccount is why GCP and Azure findings are left out without an
// importing account.
const skipNoAccount = "Security Hub files every finding under an AWS account, and none was given " +
	"(portcullis audit --securityhub imports them under the audit account as resources of type Other)"

// ASFF encodes a document's findings as ASFF, grouped into
// BatchImportFindings batches (one account and region, at most 100
// findings; batches sorted by account then region, findings in report
// order), and lists the findings it could not write.
func ASFF(d *Document, o ASFFOptions) ([]ASFFBatch, []ASFFSkip, error) {
	ts := d.GeneratedAt
	if ts == "" {
		ts = time.Unix(0, 0).UTC().Format(time.RFC3339)
	}
	type group struct{ account, region string }
	groups := map[group][]json.RawMessage{}
	var skipped []ASFFSkip
	for _, f := range d.Findings {
		e := f.Exposure
		if e.Provider != exposure.ProviderAWS && o.Account == "" {
			skipped = append(skipped, ASFFSkip{FindingID: f.ID, Provider: e.Provider, Account: e.Account, Reason: skipNoAccount})
			continue
		}
		a := asffOf(f, ts, o)
		raw, err := json.Marshal(a)
		if err != nil {
			return nil, nil, fmt.Errorf("encode finding %s: %w", f.ID, err)
		}
		if len(raw) > asffMaxFindingBytes {
			a.Resources[0].Tags = nil
			a.ProductFields["portcullis/TagsOmitted"] = "the resource's tags would make the finding too large"
			if raw, err = json.Marshal(a); err != nil {
				return nil, nil, fmt.Errorf("encode finding %s: %w", f.ID, err)
			}
		}
		g := group{a.AwsAccountID, a.Region}
		groups[g] = append(groups[g], raw)
	}
	keys := slices.SortedFunc(maps.Keys(groups), func(a, b group) int {
		return cmp.Or(cmp.Compare(a.account, b.account), cmp.Compare(a.region, b.region))
	})
	var batches []ASFFBatch
	for _, k := range keys {
		for c := range slices.Chunk(groups[k], asffBatchSize) {
			batches = append(batches, ASFFBatch{Account: k.account, Region: k.region, Findings: c})
		}
	}
	return batches, skipped, nil
}

// asffOf maps one finding onto ASFF.
func asffOf(f *Finding, ts string, o ASFFOptions) asffFinding {
	e := f.Exposure
	account, region := e.Account, or(e.Region, "us-east-1")
	if o.Account != "" {
		account = o.Account
	}
	if e.Provider != exposure.ProviderAWS {
		region = or(o.Region, "us-east-1")
	}
	part := partitionOf(region)
	res := asffResource{Partition: part, Region: region}
	res.Tags, res.omittedTags = clipTags(e.Target.Tags)
	if e.Provider == exposure.ProviderAWS {
		typ, arnPath := asffResourceType(e.Target.Kind, e.Target.ID)
		res.Type, res.ID = typ, e.Target.ID
		if arnPath != "" && !strings.HasPrefix(res.ID, "arn:") {
			res.ID = "arn:" + part + ":ec2:" + or(e.Region, "us-east-1") + ":" + e.Account + ":" + arnPath + res.ID
		}
	} else {
		// Security Hub has no resource types for other clouds: Other,
		// with the cloud's own resource ID and where it lives.
		res.Type, res.ID = "Other", e.Target.ID
		res.Details = &asffResourceDetails{Other: map[string]string{
			"Provider": e.Provider, "Account": clip(e.Account, 1024), "Region": clip(e.Region, 1024), "Kind": clip(e.Target.Kind, 1024),
		}}
		if e.Target.Name != "" {
			res.Details.Other["Name"] = clip(e.Target.Name, 1024)
		}
	}
	res.ID = clipID(res.ID, asffMaxID)
	a := asffFinding{
		SchemaVersion: "2018-10-08",
		ID:            ASFFFindingID(f),
		ProductArn:    "arn:" + part + ":securityhub:" + region + ":" + account + ":product/" + account + "/default",
		ProductName:   "Portcullis",
		CompanyName:   "Portcullis",
		GeneratorID:   clipID("portcullis/"+f.RuleID, asffMaxID),
		AwsAccountID:  account,
		Region:        region,
		Types:         []string{"Software and Configuration Checks/AWS Security Best Practices/Network Reachability"},
		CreatedAt:     ts,
		UpdatedAt:     ts,
		Severity:      asffSeverity{Label: asffSeverityLabel(f.Severity), Original: f.Severity.String()},
		Title:         clip(or(f.Title, f.RuleID), 256),
		Description:   clip(findingSentence(f), 1024),
		ProductFields: map[string]string{
			"portcullis/RuleId":        f.RuleID,
			"portcullis/Level":         string(e.Level),
			"portcullis/ExposureId":    e.ID,
			"portcullis/Sources":       clip(strings.Join(e.Sources, " "), 2048),
			"portcullis/SourceBreadth": string(e.SourceBreadth),
			"portcullis/Evidence":      clip(e.EvidenceLabel(), 2048),
		},
		Resources:   []asffResource{res},
		Workflow:    asffWorkflow{Status: "NEW"},
		RecordState: "ACTIVE",
	}
	if e.Provider != exposure.ProviderAWS || account != e.Account {
		a.ProductFields["portcullis/Provider"] = e.Provider
		a.ProductFields["portcullis/Account"] = clip(e.Account, 2048)
		a.ProductFields["portcullis/Region"] = clip(e.Region, 2048)
	}
	if res.omittedTags > 0 {
		a.ProductFields["portcullis/TagsOmitted"] = plural(res.omittedTags, "tag") + " beyond ASFF's 50"
	}
	if p := f.ProbeLabel(); p != "" {
		a.ProductFields["portcullis/Probe"] = clip(p, 2048)
	}
	if e.Backend != nil {
		a.ProductFields["portcullis/BackendPorts"] = portRangeLabel(e.Backend.Protocol, e.Backend.FromPort, e.Backend.ToPort)
	}
	if f.Remediation != "" {
		a.Remediation = &asffRemediation{}
		a.Remediation.Recommendation.Text = clip(f.Remediation, 512)
	}
	if e.Level == exposure.Effective {
		n := &asffNetwork{Direction: "IN", Protocol: strings.ToUpper(e.Protocol.String())}
		if e.Protocol.HasPorts() {
			n.OpenPortRange = &asffPortRange{Begin: e.FromPort, End: e.ToPort}
		}
		switch {
		case e.AddressFamily == "ipv6" && isIP(e.Address):
			n.DestinationIPV6 = e.Address
		case isIP(e.Address):
			n.DestinationIPV4 = e.Address
		default:
			n.DestinationDomain = clip(e.Address, 128)
		}
		a.Network = n
	}
	if len(f.Compliance) > 0 {
		c := &asffCompliance{Status: "FAILED"}
		for _, ref := range f.Compliance {
			c.RelatedRequirements = append(c.RelatedRequirements, ref.Framework+" "+ref.Control)
		}
		if len(c.RelatedRequirements) > 32 { // the ASFF maximum
			c.RelatedRequirements = c.RelatedRequirements[:32]
		}
		a.Compliance = c
	}
	if x := f.Suppression; x != nil {
		a.Workflow.Status = "SUPPRESSED"
		a.Note = &asffNote{Text: clip(x.Reason, 512), UpdatedBy: clip(or(x.Owner, "portcullis"), 512), UpdatedAt: ts}
	}
	return a
}

// clipTags keeps at most 50 tags (the first by key), keys clipped to 128
// characters and values to 256, as ASFF allows; it returns how many were
// left out. Empty keys are left out too (ASFF keys are non-empty).
func clipTags(tags map[string]string) (map[string]string, int) {
	if len(tags) == 0 {
		return nil, 0
	}
	out := make(map[string]string, min(len(tags), asffMaxTags))
	omitted := 0
	for _, k := range slices.Sorted(maps.Keys(tags)) {
		ck := clip(k, asffMaxTagKey)
		if _, dup := out[ck]; dup || k == "" || len(out) == asffMaxTags {
			omitted++
			continue
		}
		out[ck] = clip(tags[k], asffMaxTagValue)
	}
	return out, omitted
}
