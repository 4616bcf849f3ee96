package reports

import (
	"encoding/json"
	"io"
	"net/url"
	"strings"

	"github.com/portcullis-sec/portcullis/rules"
)

// SARIF 2.1.0 (OASIS), the format GitHub code scanning and most security
// dashboards ingest. https://docs.oasis-open.org/sarif/sarif/v2.1.0/sarif-v2.1.0.html
// GitHub reads rule severity from the "security-severity" property:
// https://docs.github.com/en/code-security/code-scanning/integrating-with-code-scanning/sarif-support-for-code-scanning

type sarifLog struct {
	Schema  string     `json:"$schema"`
	Version string     `json:"version"`
	Runs    []sarifRun `json:"runs"`
}

type sarifRun struct {
	Tool        sarifTool         `json:"tool"`
	Invocations []sarifInvocation `json:"invocations"`
	Results     []sarifResult     `json:"results"`
	Properties  map[string]any    `json:"properties,omitempty"`
}

type sarifTool struct {
	Driver sarifDriver `json:"driver"`
}

type sarifDriver struct {
	Name           string      `json:"name"`
	Version        string      `json:"version,omitempty"`
	InformationURI string      `json:"informationUri"`
	Rules          []sarifRule `json:"rules"`
}

type sarifText struct {
	Text     string `json:"text"`
	Markdown string `json:"markdown,omitempty"`
}

type sarifRule struct {
	ID                   string         `json:"id"`
	Name                 string         `json:"name,omitempty"`
	ShortDescription     sarifText      `json:"shortDescription"`
	Help                 *sarifText     `json:"help,omitempty"`
	DefaultConfiguration sarifConfig    `json:"defaultConfiguration"`
	Properties           map[string]any `json:"properties"`
}

type sarifConfig struct {
	Level string `json:"level"`
}

type sarifInvocation struct {
	ExecutionSuccessful bool                `json:"executionSuccessful"`
	Notifications       []sarifNotification `json:"toolExecutionNotifications,omitempty"`
}

type sarifNotification struct {
	Level   string    `json:"level"`
	Message sarifText `json:"message"`
}

type sarifResult struct {
	RuleID              string             `json:"ruleId"`
	RuleIndex           int                `json:"ruleIndex"`
	Level               string             `json:"level"`
	Message             sarifText          `json:"message"`
	Locations           []sarifLocation    `json:"locations"`
	PartialFingerprints map[string]string  `json:"partialFingerprints"`
	Suppressions        []sarifSuppression `json:"suppressions,omitempty"`
	Properties          map[string]any     `json:"properties"`
}

type sarifLocation struct {
	PhysicalLocation sarifPhysical  `json:"physicalLocation"`
	LogicalLocations []sarifLogical `json:"logicalLocations"`
}

type sarifPhysical struct {
	ArtifactLocation struct {
		URI string `json:"uri"`
	} `json:"artifactLocation"`
}

type sarifLogical struct {
	Name               string `json:"name"`
	FullyQualifiedName string `json:"fullyQualifiedName"`
	Kind               string `json:"kind"`
}

type sarifSuppression struct {
	Kind          string `json:"kind"`
	Status        string `json:"status"`
	Justification string `json:"justification,omitempty"`
}

// sarifLevel maps a severity onto SARIF's three result levels.
func sarifLevel(s rules.Severity) string {
	switch {
	case s >= rules.High:
		return "error"
	case s == rules.Medium:
		return "warning"
	}
	return "note"
}

// securitySeverity is GitHub's 0-10 score: over 9 is critical, 7 to 8.9
// high, 4 to 6.9 medium, 0.1 to 3.9 low.
func securitySeverity(s rules.Severity) string {
	switch s {
	case rules.Critical:
		return "9.5"
	case rules.High:
		return "8.0"
	case rules.Medium:
		return "5.5"
	case rules.Low:
		return "3.0"
	}
	return "0.0"
}

func writeSARIF(w io.Writer, d *Document) error {
	run := sarifRun{
		Tool: sarifTool{Driver: sarifDriver{Name: or(d.Tool.Name, "portcullis"), Version: d.Tool.Version,
			InformationURI: projectURL, Rules: []sarifRule{}}},
		Invocations: []sarifInvocation{{ExecutionSuccessful: !d.Partial}},
		Results:     []sarifResult{},
		Properties:  map[string]any{"schemaVersion": d.SchemaVersion, "generatedAt": d.GeneratedAt, "scope": d.Scope},
	}
	for _, e := range d.Errors {
		run.Invocations[0].Notifications = append(run.Invocations[0].Notifications,
			sarifNotification{Level: "error", Message: sarifText{Text: e.Error()}})
	}
	ruleIndex := map[string]int{}
	for _, f := range d.Findings {
		idx, ok := ruleIndex[f.RuleID]
		if !ok {
			idx = len(run.Tool.Driver.Rules)
			ruleIndex[f.RuleID] = idx
			r := sarifRule{
				ID: f.RuleID, Name: f.Title, ShortDescription: sarifText{Text: or(f.Title, f.RuleID)},
				DefaultConfiguration: sarifConfig{Level: sarifLevel(f.Severity)},
				Properties: map[string]any{
					"security-severity": securitySeverity(f.Severity),
					"tags":              sarifTags(f),
					"precision":         "high",
				},
			}
			if f.Remediation != "" {
				r.Help = &sarifText{Text: f.Remediation}
			}
			run.Tool.Driver.Rules = append(run.Tool.Driver.Rules, r)
		}
		e := f.Exposure
		res := sarifResult{
			RuleID: f.RuleID, RuleIndex: idx, Level: sarifLevel(f.Severity),
			Message:             sarifText{Text: findingSentence(f)},
			PartialFingerprints: map[string]string{"portcullisFinding/v1": f.ID},
			Properties: map[string]any{
				"severity": f.Severity, "level": f.Level, "exposureId": e.ID, "provider": e.Provider,
				"account": e.Account, "region": e.Region, "protocol": e.Protocol, "fromPort": e.FromPort,
				"toPort": e.ToPort, "sourceBreadth": e.SourceBreadth, "sources": e.Sources,
			},
		}
		if e.Address != "" {
			res.Properties["address"] = e.Address
		}
		if f.Port != 0 {
			res.Properties["port"] = f.Port
		}
		if e.Backend != nil {
			res.Properties["backend"] = e.Backend
		}
		loc := sarifLocation{LogicalLocations: []sarifLogical{{Name: e.TargetLabel(), FullyQualifiedName: e.Target.ID, Kind: "resource"}}}
		loc.PhysicalLocation.ArtifactLocation.URI = resourceURI(e)
		res.Locations = []sarifLocation{loc}
		if x := f.Suppression; x != nil {
			res.Suppressions = []sarifSuppression{{Kind: "external", Status: "accepted", Justification: x.Reason}}
		}
		run.Results = append(run.Results, res)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(sarifLog{Schema: "https://json.schemastore.org/sarif-2.1.0.json", Version: "2.1.0", Runs: []sarifRun{run}})
}

func sarifTags(f *Finding) []string {
	tags := []string{"security", "network-exposure"}
	if f.Service != "" {
		tags = append(tags, f.Service)
	}
	for _, c := range f.Compliance {
		tags = append(tags, c.Framework+"/"+c.Control)
	}
	return tags
}

// resourceURI names the resource as a relative URI (provider/account/
// region/id), since cloud findings have no file: SARIF consumers need a
// location to group results by.
func resourceURI(e *Exposure) string {
	parts := []string{e.Provider, e.Account}
	if e.Region != "" {
		parts = append(parts, e.Region)
	}
	parts = append(parts, strings.TrimLeft(e.Target.ID, "/"))
	u := url.URL{Path: strings.Join(parts, "/")}
	return u.EscapedPath()
}
