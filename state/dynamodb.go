package state

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/portcullis-sec/portcullis/exposure"
)

// DynamoDB stores one item per scope in a table whose partition key is the
// string attribute "pk" (provider/account[/region]). An item holds the
// baseline as gzip-compressed JSON in the binary attribute "baseline", a
// number "version" (the Version) and the scope's parts for Scopes. Save is
// a PutItem conditioned on the version loaded: attribute_not_exists(pk) for
// the first write, version = :v after; a failed condition
// (ConditionalCheckFailedException) is ErrConflict.
//
// An item is at most 400 KB, names and values together
// (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ServiceQuotas.html#limits-items);
// a baseline compresses about tenfold, and one that still does not fit is
// refused with ErrTooLarge rather than cut.
type DynamoDB struct {
	client *dynamodb.Client
	table  string
}

// maxItemBytes leaves room under DynamoDB's 400 KB for the other
// attributes and their names.
const maxItemBytes = 400*1024 - 1024

// NewDynamoDB opens a DynamoDB store on an existing table.
func NewDynamoDB(cfg aws.Config, table string) (*DynamoDB, error) {
	if table == "" {
		return nil, errors.New("open dynamodb state: no table")
	}
	return &DynamoDB{client: dynamodb.NewFromConfig(cfg), table: table}, nil
}

// Load implements Store.
func (d *DynamoDB) Load(ctx context.Context, sc exposure.Scope) (*Baseline, Version, error) {
	sc = Partition(sc)
	if err := validScope(sc); err != nil {
		return nil, "", fmt.Errorf("load state: %w", err)
	}
	pk := ScopeString(sc)
	out, err := d.client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      &d.table,
		Key:            map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: pk}},
		ConsistentRead: aws.Bool(true), // read our own and others' last write
	})
	if err != nil {
		return nil, "", fmt.Errorf("load state dynamodb://%s/%s: %w", d.table, pk, err)
	}
	if out.Item == nil {
		return NewBaseline(sc), "", nil
	}
	ver, ok := out.Item["version"].(*types.AttributeValueMemberN)
	blob, ok2 := out.Item["baseline"].(*types.AttributeValueMemberB)
	if !ok || !ok2 {
		return nil, "", fmt.Errorf("load state dynamodb://%s/%s: item lacks a version number or a baseline binary", d.table, pk)
	}
	zr, err := gzip.NewReader(bytes.NewReader(blob.Value))
	if err != nil {
		return nil, "", fmt.Errorf("load state dynamodb://%s/%s: %w", d.table, pk, err)
	}
	data, err := io.ReadAll(zr)
	if err != nil {
		return nil, "", fmt.Errorf("load state dynamodb://%s/%s: decompress: %w", d.table, pk, err)
	}
	b, err := Decode(data)
	if err != nil {
		return nil, "", fmt.Errorf("load state dynamodb://%s/%s: %w", d.table, pk, err)
	}
	if b.Scope != sc {
		return nil, "", fmt.Errorf("load state dynamodb://%s/%s: holds scope %s", d.table, pk, ScopeString(b.Scope))
	}
	return b, Version(ver.Value), nil
}

// Save implements Store.
func (d *DynamoDB) Save(ctx context.Context, b *Baseline, v Version) (Version, error) {
	data, err := checkSave(b)
	if err != nil {
		return "", err
	}
	if err := validScope(b.Scope); err != nil {
		return "", fmt.Errorf("save state: %w", err)
	}
	pk := ScopeString(b.Scope)
	var next uint64 = 1
	if v != "" {
		n, err := strconv.ParseUint(string(v), 10, 64)
		if err != nil {
			return "", fmt.Errorf("save state dynamodb://%s/%s: version %q is not a dynamodb version", d.table, pk, v)
		}
		next = n + 1
	}
	var z bytes.Buffer
	zw := gzip.NewWriter(&z)
	_, werr := zw.Write(data)
	if err := errors.Join(werr, zw.Close()); err != nil {
		return "", fmt.Errorf("save state dynamodb://%s/%s: compress: %w", d.table, pk, err)
	}
	if z.Len() > maxItemBytes {
		return "", fmt.Errorf("save state dynamodb://%s/%s: %d entries are %d bytes compressed, over the %d a DynamoDB item holds: %w",
			d.table, pk, len(b.Entries), z.Len(), maxItemBytes, ErrTooLarge)
	}
	item := map[string]types.AttributeValue{
		"pk":       &types.AttributeValueMemberS{Value: pk},
		"version":  &types.AttributeValueMemberN{Value: strconv.FormatUint(next, 10)},
		"baseline": &types.AttributeValueMemberB{Value: z.Bytes()},
	}
	in := &dynamodb.PutItemInput{TableName: &d.table, Item: item}
	if v == "" {
		in.ConditionExpression = aws.String("attribute_not_exists(pk)")
	} else {
		// Not "attribute_not_exists(pk) OR version = :v": a baseline
		// deleted since it was loaded is a change too, not a free slot.
		in.ConditionExpression = aws.String("version = :v")
		in.ExpressionAttributeValues = map[string]types.AttributeValue{":v": &types.AttributeValueMemberN{Value: string(v)}}
	}
	if _, err := d.client.PutItem(ctx, in); err != nil {
		var ccf *types.ConditionalCheckFailedException
		if errors.As(err, &ccf) {
			return "", fmt.Errorf("save state dynamodb://%s/%s: %w", d.table, pk, ErrConflict)
		}
		return "", fmt.Errorf("save state dynamodb://%s/%s: %w", d.table, pk, err)
	}
	return Version(strconv.FormatUint(next, 10)), nil
}

// Scopes implements Store.
func (d *DynamoDB) Scopes(ctx context.Context) ([]exposure.Scope, error) {
	var out []exposure.Scope
	p := dynamodb.NewScanPaginator(d.client, &dynamodb.ScanInput{
		TableName:            &d.table,
		ProjectionExpression: aws.String("pk"),
		ConsistentRead:       aws.Bool(true),
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list state dynamodb://%s: %w", d.table, err)
		}
		for _, it := range page.Items {
			if pk, ok := it["pk"].(*types.AttributeValueMemberS); ok {
				if sc, ok := parseScopeKey(pk.Value); ok {
					out = append(out, sc)
				}
			}
		}
	}
	slices.SortFunc(out, compareScope)
	return out, nil
}
