package reports

import (
	"encoding/json"
	"io"
	"slices"
	"time"

	"github.com/portcullis-sec/portcullis/exposure"
	"github.com/portcullis-sec/portcullis/rules"
)

// OCSF Detection Finding events (class 2004, category 2 "Findings"), schema
// 1.3.0 with the cloud profile: the format AWS Security Lake and most SIEMs
// ingest. One event per finding, written as a JSON array.
// https://schema.ocsf.io/1.3.0/classes/detection_finding

const ocsfVersion = "1.3.0"

type ocsfFinding struct {
	ActivityID   int              `json:"activity_id"`
	ActivityName string           `json:"activity_name"`
	CategoryUID  int              `json:"category_uid"`
	CategoryName string           `json:"category_name"`
	ClassUID     int              `json:"class_uid"`
	ClassName    string           `json:"class_name"`
	TypeUID      int              `json:"type_uid"`
	TypeName     string           `json:"type_name"`
	SeverityID   int              `json:"severity_id"`
	Severity     string           `json:"severity"`
	StatusID     int              `json:"status_id"`
	Status       string           `json:"status"`
	StatusDetail string           `json:"status_detail,omitempty"`
	Time         int64            `json:"time"`
	Message      string           `json:"message"`
	Metadata     ocsfMetadata     `json:"metadata"`
	FindingInfo  ocsfFindingInfo  `json:"finding_info"`
	Cloud        ocsfCloud        `json:"cloud"`
	Resources    []ocsfResource   `json:"resources"`
	Evidences    []ocsfEvidence   `json:"evidences"`
	Remediation  *ocsfRemediation `json:"remediation,omitempty"`
	Unmapped     map[string]any   `json:"unmapped"`
}

type ocsfMetadata struct {
	Version  string      `json:"version"`
	Product  ocsfProduct `json:"product"`
	Profiles []string    `json:"profiles"`
	UID      string      `json:"uid"`
}

type ocsfProduct struct {
	Name       string `json:"name"`
	VendorName string `json:"vendor_name"`
	Version    string `json:"version,omitempty"`
	URL        string `json:"url_string"`
}

type ocsfFindingInfo struct {
	UID         string       `json:"uid"`
	Title       string       `json:"title"`
	Desc        string       `json:"desc"`
	Types       []string     `json:"types"`
	Analytic    ocsfAnalytic `json:"analytic"`
	CreatedTime int64        `json:"created_time"`
}

type ocsfAnalytic struct {
	UID    string `json:"uid"`
	Name   string `json:"name"`
	TypeID int    `json:"type_id"`
	Type   string `json:"type"`
}

type ocsfCloud struct {
	Provider string      `json:"provider"`
	Account  ocsfAccount `json:"account"`
	Region   string      `json:"region,omitempty"`
}

type ocsfAccount struct {
	UID string `json:"uid"`
}

type ocsfResource struct {
	UID    string         `json:"uid"`
	Name   string         `json:"name,omitempty"`
	Type   string         `json:"type"`
	Region string         `json:"region,omitempty"`
	Labels []string       `json:"labels,omitempty"`
	Data   map[string]any `json:"data,omitempty"`
}

type ocsfEvidence struct {
	DstEndpoint    *ocsfEndpoint   `json:"dst_endpoint,omitempty"`
	ConnectionInfo *ocsfConnection `json:"connection_info,omitempty"`
	Data           map[string]any  `json:"data,omitempty"`
}

type ocsfEndpoint struct {
	IP       string `json:"ip,omitempty"`
	Hostname string `json:"hostname,omitempty"`
	Port     int    `json:"port,omitempty"`
}

type ocsfConnection struct {
	Direction   string `json:"direction"`
	DirectionID int    `json:"direction_id"`
	Protocol    string `json:"protocol_name,omitempty"`
	ProtocolNum int    `json:"protocol_num,omitempty"`
}

type ocsfRemediation struct {
	Desc string `json:"desc"`
}

// ocsfSeverity maps a severity onto OCSF severity_id: 1 Informational,
// 2 Low, 3 Medium, 4 High, 5 Critical.
func ocsfSeverity(s rules.Severity) (int, string) {
	switch s {
	case rules.Critical:
		return 5, "Critical"
	case rules.High:
		return 4, "High"
	case rules.Medium:
		return 3, "Medium"
	case rules.Low:
		return 2, "Low"
	}
	return 1, "Informational"
}

// ocsfCloudProvider spells providers as OCSF's examples do.
func ocsfCloudProvider(p string) string {
	switch p {
	case exposure.ProviderAWS:
		return "AWS"
	case exposure.ProviderGCP:
		return "GCP"
	case exposure.ProviderAzure:
		return "Azure"
	}
	return p
}

func writeOCSF(w io.Writer, d *Document) error {
	var ms int64
	if t, err := time.Parse(time.RFC3339, d.GeneratedAt); err == nil {
		ms = t.UnixMilli()
	}
	out := []ocsfFinding{}
	for _, f := range d.Findings {
		e := f.Exposure
		sevID, sev := ocsfSeverity(f.Severity)
		ev := ocsfFinding{
			ActivityID: 1, ActivityName: "Create",
			CategoryUID: 2, CategoryName: "Findings",
			ClassUID: 2004, ClassName: "Detection Finding",
			TypeUID: 200401, TypeName: "Detection Finding: Create",
			SeverityID: sevID, Severity: sev,
			StatusID: 1, Status: "New",
			Time:    ms,
			Message: findingSentence(f),
			Metadata: ocsfMetadata{
				Version: ocsfVersion, Profiles: []string{"cloud"}, UID: f.ID,
				Product: ocsfProduct{Name: or(d.Tool.Name, "portcullis"), VendorName: "Portcullis", Version: d.Tool.Version, URL: projectURL},
			},
			FindingInfo: ocsfFindingInfo{
				UID: f.ID, Title: or(f.Title, f.RuleID), Desc: findingSentence(f),
				Types:       []string{"Network Exposure", "Network Exposure/" + string(e.Level)},
				Analytic:    ocsfAnalytic{UID: f.RuleID, Name: or(f.Title, f.RuleID), TypeID: 1, Type: "Rule"},
				CreatedTime: ms,
			},
			Cloud: ocsfCloud{Provider: ocsfCloudProvider(e.Provider), Account: ocsfAccount{UID: e.Account}, Region: e.Region},
			Unmapped: map[string]any{
				"level": e.Level, "exposure_id": e.ID, "sources": e.Sources, "source_breadth": e.SourceBreadth,
				"compliance": f.Compliance, "path": e.Evidence,
			},
		}
		if x := f.Suppression; x != nil {
			ev.StatusID, ev.Status, ev.StatusDetail = 3, "Suppressed", x.Reason
			ev.Unmapped["suppression"] = x
		}
		if f.Remediation != "" {
			ev.Remediation = &ocsfRemediation{Desc: f.Remediation}
		}
		if e.Backend != nil {
			ev.Unmapped["backend"] = e.Backend
		}
		res := ocsfResource{UID: e.Target.ID, Name: e.Target.Name, Type: e.Target.Kind, Region: e.Region}
		for k, val := range e.Target.Tags {
			res.Labels = append(res.Labels, k+"="+val)
		}
		slices.Sort(res.Labels)
		if e.Target.Owner != "" && e.Target.Owner != e.Target.ID {
			res.Data = map[string]any{"owner": e.Target.Owner}
		}
		ev.Resources = []ocsfResource{res}
		evidence := ocsfEvidence{
			ConnectionInfo: &ocsfConnection{Direction: "Inbound", DirectionID: 1, Protocol: e.Protocol.String()},
			Data:           map[string]any{"from_port": e.FromPort, "to_port": e.ToPort},
		}
		if e.Protocol != exposure.ProtocolAll {
			evidence.ConnectionInfo.ProtocolNum = int(e.Protocol)
		}
		if e.Address != "" {
			dst := &ocsfEndpoint{Hostname: e.Hostname}
			if e.AddressFamily != "" && isIP(e.Address) {
				dst.IP = e.Address
			} else {
				dst.Hostname = e.Address
			}
			if e.FromPort == e.ToPort && e.Protocol.HasPorts() {
				dst.Port = e.FromPort
			}
			evidence.DstEndpoint = dst
		}
		if p := f.ProbeView(); p != nil {
			evidence.Data["probe"] = p
		}
		ev.Evidences = []ocsfEvidence{evidence}
		out = append(out, ev)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}
