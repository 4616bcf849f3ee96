package reports

import (
	"encoding/json"
	"io"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/portcullis-sec/portcullis/exposure"
	"github.com/portcullis-sec/portcullis/rules"
)

// AWS Security Finding Format, the format of AWS Security Hub's
// BatchImportFindings. Only AWS findings are written: ASFF requires a
// 12-digit AWS account and a Security Hub region. The output is a JSON array
// of findings; BatchImportFindings takes at most 100 per call.
// https://docs.aws.amazon.com/securityhub/latest/userguide/securityhub-findings-format-syntax.html

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
	Type      string            `json:"Type"`
	ID        string            `json:"Id"`
	Partition string            `json:"Partition"`
	Region    string            `json:"Region"`
	Tags      map[string]string `json:"Tags,omitempty"`
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
	ts := d.GeneratedAt
	if ts == "" {
		ts = time.Unix(0, 0).UTC().Format(time.RFC3339)
	}
	out := []asffFinding{}
	for _, f := range d.Findings {
		e := f.Exposure
		if e.Provider != "aws" {
			continue
		}
		region := or(e.Region, "us-east-1")
		part := partitionOf(region)
		typ, arnPath := asffResourceType(e.Target.Kind, e.Target.ID)
		resID := e.Target.ID
		if arnPath != "" && !strings.HasPrefix(resID, "arn:") {
			resID = "arn:" + part + ":ec2:" + region + ":" + e.Account + ":" + arnPath + resID
		}
		a := asffFinding{
			SchemaVersion: "2018-10-08",
			ID:            region + "/" + e.Account + "/portcullis/" + f.ID,
			ProductArn:    "arn:" + part + ":securityhub:" + region + ":" + e.Account + ":product/" + e.Account + "/default",
			ProductName:   "Portcullis",
			CompanyName:   "Portcullis",
			GeneratorID:   "portcullis/" + f.RuleID,
			AwsAccountID:  e.Account,
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
			Resources:   []asffResource{{Type: typ, ID: resID, Partition: part, Region: region, Tags: e.Target.Tags}},
			Workflow:    asffWorkflow{Status: "NEW"},
			RecordState: "ACTIVE",
		}
		if p := f.ProbeLabel(); p != "" {
			a.ProductFields["portcullis/Probe"] = p
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
				n.DestinationDomain = e.Address
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
		out = append(out, a)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}
