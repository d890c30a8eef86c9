package dynamostore_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"

	"github.com/unbundled/unbundled/shared/consent"
	"github.com/unbundled/unbundled/shared/dynamostore"
)

// failingAPI returns err from every write and records the last transaction.
// The emulator cannot produce every error DynamoDB can (a concurrent
// transaction conflict, throttling), so their mapping is checked here.
type failingAPI struct {
	err error
	tx  *dynamodb.TransactWriteItemsInput
}

func (f *failingAPI) PutItem(context.Context, *dynamodb.PutItemInput, ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	return nil, f.err
}

func (f *failingAPI) Query(context.Context, *dynamodb.QueryInput, ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	return nil, f.err
}

func (f *failingAPI) TransactWriteItems(_ context.Context, in *dynamodb.TransactWriteItemsInput, _ ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	f.tx = in
	return nil, f.err
}

func cancelled(codes ...string) error {
	reasons := make([]types.CancellationReason, len(codes))
	for i, c := range codes {
		reasons[i] = types.CancellationReason{Code: aws.String(c)}
	}
	// Wrapped as the SDK does, so only errors.As finds it.
	return &smithy.OperationError{ServiceID: "DynamoDB", OperationName: "TransactWriteItems",
		Err: &types.TransactionCanceledException{Message: aws.String("cancelled"), CancellationReasons: reasons}}
}

func TestAppendErrorMapping(t *testing.T) {
	at := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	one := []consent.Event{{Subscriber: "s", Seq: 4, ID: "a", At: at, Magnet: "m"}}
	two := []consent.Event{{Subscriber: "s", Seq: 4, ID: "a", At: at, Magnet: "m"}, {Subscriber: "s", Seq: 5, ID: "b", At: at, Magnet: "m"}}
	throttled := &types.ProvisionedThroughputExceededException{Message: aws.String("slow down")}
	tests := []struct {
		name         string
		events       []consent.Event
		err          error
		wantConflict bool
		wantSeq      string // the position the error names
	}{
		{"put: condition failed", one, &smithy.OperationError{Err: &types.ConditionalCheckFailedException{}}, true, "event 4"},
		{"put: throttled", one, throttled, false, "event 4"},
		{"tx: second condition failed", two, cancelled("None", "ConditionalCheckFailed"), true, "event 5"},
		{"tx: concurrent transaction", two, cancelled("TransactionConflict", "None"), true, "event 4"},
		{"tx: other cancellation", two, cancelled("None", "ValidationError"), false, "events 4-5"},
		{"tx: throttled", two, throttled, false, "events 4-5"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			api := &failingAPI{err: tc.err}
			err := dynamostore.New(api, "table").Append(context.Background(), tc.events)
			if err == nil {
				t.Fatal("got nil error, want one")
			}
			if got := errors.Is(err, consent.ErrConflict); got != tc.wantConflict {
				t.Errorf("errors.Is(%v, ErrConflict): got %v, want %v", err, got, tc.wantConflict)
			}
			if !tc.wantConflict && !errors.Is(err, tc.err) {
				t.Errorf("got %v, want it to wrap the SDK error", err)
			}
			if want := "append " + tc.wantSeq + ":"; !strings.HasPrefix(err.Error(), want) {
				t.Errorf("got message %q, want it to start with %q", err.Error(), want)
			}
		})
	}
}

func TestTransactionRequestToken(t *testing.T) {
	at := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	batch := func(firstSeq int, ids ...string) []consent.Event {
		var events []consent.Event
		for i, id := range ids {
			events = append(events, consent.Event{Subscriber: "s", Seq: firstSeq + i, ID: id, At: at, Magnet: "m"})
		}
		return events
	}
	token := func(events []consent.Event) string {
		api := &failingAPI{err: errors.New("offline")}
		_ = dynamostore.New(api, "table").Append(context.Background(), events)
		if api.tx == nil {
			t.Fatal("no transaction sent")
		}
		return aws.ToString(api.tx.ClientRequestToken)
	}
	a := token(batch(1, "x", "y"))
	if len(a) == 0 || len(a) > 36 {
		t.Errorf("token %q: got %d characters, want 1 to 36", a, len(a))
	}
	if again := token(batch(1, "x", "y")); again != a {
		t.Errorf("same batch twice: got tokens %q and %q, want equal (retries must be idempotent)", a, again)
	}
	for name, other := range map[string][]consent.Event{
		"other position": batch(2, "x", "y"),
		"other ids":      batch(1, "x", "z"),
	} {
		if got := token(other); got == a {
			t.Errorf("%s: got the same token %q, want a different one", name, got)
		}
	}
}

func TestReadErrorsAreWrapped(t *testing.T) {
	boom := fmt.Errorf("network down")
	s := dynamostore.New(&failingAPI{err: boom}, "table")
	ctx := context.Background()
	if _, err := s.Ledger(ctx, "s"); !errors.Is(err, boom) {
		t.Errorf("Ledger: got %v, want it to wrap %v", err, boom)
	}
	at := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	if _, _, err := s.EventsByMagnet(ctx, "m", at, at.Add(time.Hour), 10, ""); !errors.Is(err, boom) {
		t.Errorf("EventsByMagnet: got %v, want it to wrap %v", err, boom)
	}
	if _, err := s.Claim(ctx, "k", at, at.Add(time.Hour)); !errors.Is(err, boom) {
		t.Errorf("Claim: got %v, want it to wrap %v", err, boom)
	}
	v := consent.WordingVersion{ID: "w1", Wording: "Yes."}
	if err := s.ArchiveWording(ctx, "m", v, at); !errors.Is(err, boom) || errors.Is(err, consent.ErrConflict) {
		t.Errorf("ArchiveWording: got %v, want it to wrap %v and not ErrConflict", err, boom)
	}
	if _, err := s.Wording(ctx, "m", "w1"); !errors.Is(err, boom) || errors.Is(err, consent.ErrNotFound) {
		t.Errorf("Wording: got %v, want it to wrap %v and not ErrNotFound", err, boom)
	}
}

// linkFailsAPI accepts the first PutItem (the version) and fails the second
// (the magnet's link).
type linkFailsAPI struct {
	failingAPI
	puts int
}

func (f *linkFailsAPI) PutItem(context.Context, *dynamodb.PutItemInput, ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	if f.puts++; f.puts == 1 {
		return &dynamodb.PutItemOutput{}, nil
	}
	return nil, f.err
}

func TestArchiveWordingLinkFailure(t *testing.T) {
	boom := errors.New("network down")
	api := &linkFailsAPI{failingAPI: failingAPI{err: boom}}
	err := dynamostore.New(api, "table").ArchiveWording(context.Background(), "guide", consent.WordingVersion{ID: "w1"}, time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
	if !errors.Is(err, boom) || errors.Is(err, consent.ErrConflict) {
		t.Errorf("ArchiveWording with the link put failing: got %v, want it to wrap %v and not ErrConflict", err, boom)
	}
	if api.puts != 2 {
		t.Errorf("got %d PutItem calls, want 2 (version, link)", api.puts)
	}
}
