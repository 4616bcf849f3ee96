package aws

import (
	"context"
	"fmt"
	"path"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"go4.org/netipx"
)

// Managed prefix lists, customer-managed and AWS-managed (CloudFront origin
// facing, S3, DynamoDB, …): security-group rules and routes may name one
// instead of a CIDR, and it stands for all its entries.
// https://docs.aws.amazon.com/vpc/latest/userguide/managed-prefix-lists.html

const (
	filePrefixLists      = "ec2-describe-managed-prefix-lists.json"
	dirPrefixListEntries = "ec2-get-managed-prefix-list-entries"
)

func (rc *regionCollector) collectPrefixLists(ctx context.Context) error {
	lists := []ec2types.ManagedPrefixList{}
	p := ec2.NewDescribeManagedPrefixListsPaginator(rc.ec2, &ec2.DescribeManagedPrefixListsInput{})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return err
		}
		lists = append(lists, page.PrefixLists...)
	}
	if err := rc.put(filePrefixLists, map[string]any{"PrefixLists": lists}); err != nil {
		return err
	}
	for _, l := range lists {
		id := aws.ToString(l.PrefixListId)
		entries := []ec2types.PrefixListEntry{}
		ep := ec2.NewGetManagedPrefixListEntriesPaginator(rc.ec2, &ec2.GetManagedPrefixListEntriesInput{PrefixListId: l.PrefixListId})
		var err error
		for ep.HasMorePages() {
			var page *ec2.GetManagedPrefixListEntriesOutput
			if page, err = ep.NextPage(ctx); err != nil {
				break
			}
			entries = append(entries, page.Entries...)
		}
		if err != nil {
			// One list that cannot be read (a list shared by an account
			// that has since left) does not lose the others.
			rc.fail(fmt.Errorf("prefix list %s: %w", id, err), "collect")
			continue
		}
		if err := rc.put(path.Join(dirPrefixListEntries, id+".json"), map[string]any{"Entries": entries}); err != nil {
			return err
		}
	}
	return nil
}

type prefixList struct {
	PrefixListId   string
	PrefixListName string
	AddressFamily  string
	// entries is nil when the entries are not in the snapshot.
	entries *netipx.IPSet
}

func (r *region) loadPrefixLists() {
	r.prefixLists = map[string]*prefixList{}
	var doc struct{ PrefixLists []*prefixList }
	r.readJSON(filePrefixLists, &doc)
	for _, l := range doc.PrefixLists {
		if l != nil && l.PrefixListId != "" {
			r.prefixLists[l.PrefixListId] = l
		}
	}
	// Entries files are read for every list named, and for lists found
	// only as entries files (a hand-made export may skip the describe).
	dir := path.Join(r.dir, dirPrefixListEntries)
	files, _ := fsReadDir(r.fsys, dir)
	for _, f := range files {
		id := trimJSON(f)
		if id == "" {
			continue
		}
		if r.prefixLists[id] == nil {
			r.prefixLists[id] = &prefixList{PrefixListId: id}
		}
	}
	for _, id := range sortedKeys(r.prefixLists) {
		l := r.prefixLists[id]
		var edoc struct {
			Entries []struct {
				Cidr        string
				Description string
			}
		}
		name := path.Join(dirPrefixListEntries, id+".json")
		if !r.readJSON(name, &edoc) {
			continue
		}
		var b netipx.IPSetBuilder
		for i, e := range edoc.Entries {
			p, err := parseCIDR(e.Cidr)
			if err != nil {
				r.errorf(fmt.Sprintf("%s Entries[%d].Cidr", id, i), "%v; entry skipped", err)
				continue
			}
			b.AddPrefix(p)
		}
		s, _ := b.IPSet()
		l.entries = s
	}
}
