package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"testing/fstest"
	"time"

	"github.com/portcullis-sec/portcullis/alerts"
	"github.com/portcullis-sec/portcullis/audit"
	"github.com/portcullis-sec/portcullis/reports"
	"github.com/portcullis-sec/portcullis/rules"
	"github.com/portcullis-sec/portcullis/state"
)

// demoChangeFile is the file of the demo estate the monitor act changes.
const demoChangeFile = "aws/111122223333/eu-west-1/ec2-describe-security-groups.json"

// demoChange is the change the monitor act makes to the demo estate, as
// someone debugging at 10:02 might: the partner SSH group opened to the
// world, RDP added to the bastion's group, and its ping rule removed.
var demoChange = []string{
	"admin-partner-ssh: tcp 22 from 0.0.0.0/0 (was the partner's 198.51.100.0/24 only)",
	"bastion-ssh: tcp 3389 from 0.0.0.0/0 added, its ICMP echo rule removed",
}

// overlayFS serves some files of a snapshot changed.
type overlayFS struct {
	base  fs.FS
	files fstest.MapFS
}

func (o overlayFS) Open(name string) (fs.File, error) {
	if _, ok := o.files[name]; ok {
		return o.files.Open(name)
	}
	return o.base.Open(name)
}

// changedDemoEstate applies demoChange to the estate.
func changedDemoEstate(base fs.FS) (fs.FS, error) {
	data, err := fs.ReadFile(base, demoChangeFile)
	if err != nil {
		return nil, err
	}
	var doc struct {
		SecurityGroups []map[string]any `json:"SecurityGroups"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("%s: %w", demoChangeFile, err)
	}
	anyone := func(from, to int) map[string]any {
		return map[string]any{"IpProtocol": "tcp", "FromPort": from, "ToPort": to,
			"IpRanges":   []any{map[string]any{"CidrIp": "0.0.0.0/0", "Description": "temporary, debugging"}},
			"Ipv6Ranges": []any{}, "PrefixListIds": []any{}, "UserIdGroupPairs": []any{}}
	}
	changed := 0
	for _, g := range doc.SecurityGroups {
		perms, _ := g["IpPermissions"].([]any)
		switch g["GroupName"] {
		case "admin-partner-ssh":
			g["IpPermissions"] = append(perms, anyone(22, 22))
			changed++
		case "bastion-ssh":
			kept := []any{}
			for _, p := range perms {
				if m, ok := p.(map[string]any); ok && m["IpProtocol"] == "icmp" {
					continue
				}
				kept = append(kept, p)
			}
			g["IpPermissions"] = append(kept, anyone(3389, 3389))
			changed++
		}
	}
	if changed != 2 {
		return nil, fmt.Errorf("%s: the groups the demo changes are missing", demoChangeFile)
	}
	out, err := json.MarshalIndent(map[string]any{"SecurityGroups": doc.SecurityGroups}, "", "  ")
	if err != nil {
		return nil, err
	}
	return overlayFS{base: base, files: fstest.MapFS{demoChangeFile: &fstest.MapFile{Data: out}}}, nil
}

// runDemoMonitor shows the monitor: the demo's first report becomes the
// baseline of a fresh state, a second audit of the changed estate is
// diffed against it, and the alert that would be sent is printed (a dry
// run: nothing leaves the machine).
func runDemoMonitor(ctx context.Context, w io.Writer, base fs.FS, first *reports.Document, now time.Time) error {
	dir, err := os.MkdirTemp("", "portcullis-demo-state-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	st, err := state.NewDir(dir)
	if err != nil {
		return err
	}
	policy := audit.Policy{MinSeverity: rules.High}
	if _, err := audit.Track(ctx, first, audit.TrackOptions{Store: st, Policy: policy, RunID: "demo-1", Now: now}); err != nil {
		return fmt.Errorf("demo baseline: %w", err)
	}
	changed, err := changedDemoEstate(base)
	if err != nil {
		return err
	}
	res, err := audit.Run(ctx, audit.Options{Snapshot: changed, SnapshotDir: "(embedded demo estate, changed)",
		Version: toolVersion(), FailOn: rules.High, Rules: rules.Options{Now: now}})
	if err != nil {
		return fmt.Errorf("demo second audit: %w", err)
	}
	doc := reports.NewDocument(res.Report)
	fmt.Fprintln(w, "\n== The monitor: the next scheduled run, after this change ==")
	for _, c := range demoChange {
		fmt.Fprintln(w, "  -", c)
	}
	fmt.Fprintln(w, "Portcullis diffs the run against the state and sends one message per account, Slack and email alike:")
	fmt.Fprintln(w)
	if _, err := audit.Track(ctx, doc, audit.TrackOptions{Store: st, Policy: policy, RunID: "demo-2", Now: now.Add(24 * time.Hour),
		Notifiers: []alerts.Notifier{alerts.NewDryRun(w, "slack, email")}}); err != nil {
		return fmt.Errorf("demo monitor: %w", err)
	}
	fmt.Fprintln(w, "Try it: portcullis audit --state DIR --notify slack,email (README, \"Alerts on newly exposed ports\").")
	return nil
}
