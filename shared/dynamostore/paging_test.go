package dynamostore_test

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/unbundled/unbundled/shared/consent"
	"github.com/unbundled/unbundled/shared/consent/storetest"
	"github.com/unbundled/unbundled/shared/dynamostore"
)

// pagedTable is a one-subscriber table that answers queries (and scans,
// ignoring their filter: it holds only events) in pages of at most pageSize
// items, as DynamoDB does when a page reaches 1 MB, and, like DynamoDB,
// returns a LastEvaluatedKey whenever a page stopped at its limit, even if
// nothing follows. The emulator never splits pages this small, so this
// checks that the store follows LastEvaluatedKey.
type pagedTable struct {
	items    []map[string]types.AttributeValue
	pageSize int
	queries  int
	scans    int
}

func (p *pagedTable) PutItem(_ context.Context, in *dynamodb.PutItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	p.items = append(p.items, in.Item)
	return &dynamodb.PutItemOutput{}, nil
}

func (p *pagedTable) TransactWriteItems(_ context.Context, in *dynamodb.TransactWriteItemsInput, _ ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	for _, w := range in.TransactItems {
		p.items = append(p.items, w.Put.Item)
	}
	return &dynamodb.TransactWriteItemsOutput{}, nil
}

func (p *pagedTable) UpdateItem(context.Context, *dynamodb.UpdateItemInput, ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	return nil, errors.New("pagedTable: UpdateItem not supported")
}

func (p *pagedTable) DeleteItem(context.Context, *dynamodb.DeleteItemInput, ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error) {
	return nil, errors.New("pagedTable: DeleteItem not supported")
}

// Scan pages through every item in pk, sk order.
func (p *pagedTable) Scan(_ context.Context, in *dynamodb.ScanInput, _ ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error) {
	p.scans++
	key := func(item map[string]types.AttributeValue) string {
		return item["pk"].(*types.AttributeValueMemberS).Value + "\x00" + item["sk"].(*types.AttributeValueMemberS).Value
	}
	sorted := slices.SortedFunc(slices.Values(p.items), func(a, b map[string]types.AttributeValue) int {
		return cmp.Compare(key(a), key(b))
	})
	start := 0
	if in.ExclusiveStartKey != nil {
		start = 1 + slices.IndexFunc(sorted, func(item map[string]types.AttributeValue) bool {
			return key(item) == key(in.ExclusiveStartKey)
		})
	}
	end := min(start+p.pageSize, len(sorted))
	out := &dynamodb.ScanOutput{Items: sorted[start:end]}
	if end-start == p.pageSize {
		last := sorted[end-1]
		out.LastEvaluatedKey = map[string]types.AttributeValue{"pk": last["pk"], "sk": last["sk"]}
	}
	return out, nil
}

func (p *pagedTable) Query(_ context.Context, in *dynamodb.QueryInput, _ ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	p.queries++
	keys := []string{"pk", "sk"}
	if in.IndexName != nil {
		keys = []string{"pk", "sk", "gsi1pk", "gsi1sk"}
	}
	sortKey := keys[len(keys)-1]
	str := func(item map[string]types.AttributeValue, name string) string {
		return item[name].(*types.AttributeValueMemberS).Value
	}
	sorted := slices.SortedFunc(slices.Values(p.items), func(a, b map[string]types.AttributeValue) int {
		return cmp.Compare(str(a, sortKey), str(b, sortKey))
	})
	start := 0
	if in.ExclusiveStartKey != nil {
		start = 1 + slices.IndexFunc(sorted, func(item map[string]types.AttributeValue) bool {
			return str(item, sortKey) == str(in.ExclusiveStartKey, sortKey)
		})
	}
	n := p.pageSize
	if in.Limit != nil {
		n = min(n, int(*in.Limit))
	}
	end := min(start+n, len(sorted))
	out := &dynamodb.QueryOutput{Items: sorted[start:end]}
	if end-start == n {
		last := sorted[end-1]
		out.LastEvaluatedKey = map[string]types.AttributeValue{}
		for _, k := range keys {
			out.LastEvaluatedKey[k] = last[k]
		}
	}
	return out, nil
}

func TestPagesAreFollowed(t *testing.T) {
	ctx := context.Background()
	table := &pagedTable{pageSize: 2}
	s := dynamostore.New(table, "table")
	at := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	var want []consent.Event
	for seq := 1; seq <= 7; seq++ {
		e := consent.Event{Subscriber: "s", Seq: seq, ID: "e", Type: consent.EventSignup, At: at.Add(time.Duration(seq) * time.Minute), Magnet: "m"}
		if err := storetest.Append(ctx, s, e); err != nil {
			t.Fatal(err)
		}
		want = append(want, e)
	}

	ledger, err := s.Events(ctx, "s")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ledger, want) {
		t.Errorf("Ledger over pages of 2: got %d events, want %d", len(ledger), len(want))
	}

	if table.queries == 0 {
		t.Fatal("no queries reached the table")
	}
}

func TestScanPagesAreFollowed(t *testing.T) {
	ctx := context.Background()
	table := &pagedTable{pageSize: 2}
	s := dynamostore.New(table, "table")
	at := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	var want []consent.Event
	for i, sub := range []string{"s1", "s2", "s3"} {
		for seq := 1; seq <= 2+i; seq++ {
			e := consent.Event{Subscriber: sub, Seq: seq, ID: "e", Type: consent.EventSignup, At: at.Add(time.Duration(seq) * time.Minute), Magnet: "m"}
			if err := storetest.Append(ctx, s, e); err != nil {
				t.Fatal(err)
			}
			want = append(want, e)
		}
	}

	var got []consent.Event
	if err := s.ScanEvents(ctx, nil, func(e consent.Event) error {
		got = append(got, e)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, want) {
		t.Errorf("ScanEvents over pages of 2: got %d events, want %d", len(got), len(want))
	}
	if want := len(want)/2 + 1; table.scans != want {
		t.Errorf("got %d Scan calls, want %d (one per page)", table.scans, want)
	}
}

var _ dynamostore.API = (*pagedTable)(nil)
