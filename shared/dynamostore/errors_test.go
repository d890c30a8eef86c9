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
	"github.com/unbundled/unbundled/shared/consent/storetest"
	"github.com/unbundled/unbundled/shared/dynamostore"
)

// failingAPI returns err from every write and records the last transaction.
// The emulator cannot produce every error DynamoDB can (a concurrent
// transaction conflict, throttling), so their mapping is checked here.
type failingAPI struct {
	err   error
	tx    *dynamodb.TransactWriteItemsInput
	calls int
}

func (f *failingAPI) PutItem(context.Context, *dynamodb.PutItemInput, ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	f.calls++
	return nil, f.err
}

func (f *failingAPI) Query(context.Context, *dynamodb.QueryInput, ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	f.calls++
	return nil, f.err
}

func (f *failingAPI) Scan(context.Context, *dynamodb.ScanInput, ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error) {
	f.calls++
	return nil, f.err
}

func (f *failingAPI) DeleteItem(context.Context, *dynamodb.DeleteItemInput, ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error) {
	f.calls++
	return nil, f.err
}

func (f *failingAPI) TransactWriteItems(_ context.Context, in *dynamodb.TransactWriteItemsInput, _ ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	f.calls++
	f.tx = in
	return nil, f.err
}

func (f *failingAPI) UpdateItem(context.Context, *dynamodb.UpdateItemInput, ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	f.calls++
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

func TestCommitErrorMapping(t *testing.T) {
	at := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	ev := func(seq int, id string) consent.Event {
		return consent.Event{Subscriber: "s", Seq: seq, ID: id, At: at, Magnet: "m"}
	}
	j1 := consent.Job{ID: "j1", State: consent.JobPending, CreatedAt: at}
	k1 := consent.ClaimRecord{Key: "k1", Value: "v", ExpiresAt: at.Add(time.Hour)}
	one := consent.Write{Now: at, Events: []consent.Event{ev(4, "a")}}
	two := consent.Write{Now: at, Events: []consent.Event{ev(4, "a"), ev(5, "b")}}
	jobOnly := consent.Write{Now: at, Jobs: []consent.Job{j1}}
	claimOnly := consent.Write{Now: at, Claims: []consent.ClaimRecord{k1}}
	// Transaction items: 0 the event, 1 the job, 2 the claim.
	mixed := consent.Write{Now: at, Events: []consent.Event{ev(4, "a")}, Jobs: []consent.Job{j1}, Claims: []consent.ClaimRecord{k1}}
	conditionFailed := &smithy.OperationError{Err: &types.ConditionalCheckFailedException{}}
	throttled := &types.ProvisionedThroughputExceededException{Message: aws.String("slow down")}
	tests := []struct {
		name           string
		w              consent.Write
		err            error
		wantConflict   bool
		wantClaimTaken bool
		wantPrefix     string // what the error names first
	}{
		{"put event: condition failed", one, conditionFailed, true, false, "append event 4:"},
		{"put event: throttled", one, throttled, false, false, "append event 4:"},
		{"put job: condition failed", jobOnly, conditionFailed, true, false, "create job j1:"},
		{"put claim: condition failed", claimOnly, conditionFailed, true, true, "claim k1:"},
		{"put claim: throttled", claimOnly, throttled, false, false, "claim k1:"},
		{"tx: second event's condition failed", two, cancelled("None", "ConditionalCheckFailed"), true, false, "append event 5:"},
		{"tx: concurrent transaction", two, cancelled("TransactionConflict", "None"), true, false, "append event 4:"},
		{"tx: job's condition failed", mixed, cancelled("None", "ConditionalCheckFailed", "None"), true, false, "create job j1:"},
		{"tx: claim's condition failed", mixed, cancelled("None", "None", "ConditionalCheckFailed"), true, true, "claim k1:"},
		{"tx: event's and claim's conditions failed", mixed, cancelled("ConditionalCheckFailed", "None", "ConditionalCheckFailed"), true, true, "claim k1:"},
		{"tx: concurrent transaction on the claim", mixed, cancelled("None", "None", "TransactionConflict"), true, false, "claim k1:"},
		{"tx: other cancellation", two, cancelled("None", "ValidationError"), false, false, "commit events 4-5:"},
		{"tx: throttled", mixed, throttled, false, false, "commit event 4, 1 job, 1 claim:"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			api := &failingAPI{err: tc.err}
			err := dynamostore.New(api, "table").Commit(context.Background(), tc.w)
			if err == nil {
				t.Fatal("got nil error, want one")
			}
			if got := errors.Is(err, consent.ErrConflict); got != tc.wantConflict {
				t.Errorf("errors.Is(%v, ErrConflict): got %v, want %v", err, got, tc.wantConflict)
			}
			if got := errors.Is(err, consent.ErrClaimTaken); got != tc.wantClaimTaken {
				t.Errorf("errors.Is(%v, ErrClaimTaken): got %v, want %v", err, got, tc.wantClaimTaken)
			}
			if !tc.wantConflict && !errors.Is(err, tc.err) {
				t.Errorf("got %v, want it to wrap the SDK error", err)
			}
			if !strings.HasPrefix(err.Error(), tc.wantPrefix) {
				t.Errorf("got message %q, want it to start with %q", err.Error(), tc.wantPrefix)
			}
		})
	}
}

// TestCommitTooLarge checks that a Write over DynamoDB's transaction limit
// fails before any request, with an error that is not a conflict.
func TestCommitTooLarge(t *testing.T) {
	api := &failingAPI{err: errors.New("unexpected call")}
	at := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	w := consent.Write{Now: at, Jobs: []consent.Job{{ID: "j", State: consent.JobPending}}}
	for i := range consent.MaxBatch {
		w.Claims = append(w.Claims, consent.ClaimRecord{Key: fmt.Sprint(i), ExpiresAt: at})
	}
	err := dynamostore.New(api, "table").Commit(context.Background(), w)
	if err == nil || errors.Is(err, consent.ErrConflict) {
		t.Errorf("Commit of %d items: got %v, want an error that is not ErrConflict", consent.MaxBatch+1, err)
	}
	if api.calls != 0 {
		t.Errorf("Commit of %d items: got %d requests, want none", consent.MaxBatch+1, api.calls)
	}
}

func TestTransactionRequestToken(t *testing.T) {
	at := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	write := func(firstSeq int, ids ...string) consent.Write {
		w := consent.Write{
			Now:    at,
			Jobs:   []consent.Job{{ID: "j1", State: consent.JobPending, CreatedAt: at, Email: "a@example.com"}},
			Claims: []consent.ClaimRecord{{Key: "k1", Value: "v1", ExpiresAt: at.Add(time.Hour)}},
		}
		for i, id := range ids {
			w.Events = append(w.Events, consent.Event{Subscriber: "s", Seq: firstSeq + i, ID: id, At: at, Magnet: "m"})
		}
		return w
	}
	token := func(w consent.Write) string {
		api := &failingAPI{err: errors.New("offline")}
		_ = dynamostore.New(api, "table").Commit(context.Background(), w)
		if api.tx == nil {
			t.Fatal("no transaction sent")
		}
		return aws.ToString(api.tx.ClientRequestToken)
	}
	a := token(write(1, "x", "y"))
	if len(a) == 0 || len(a) > 36 {
		t.Errorf("token %q: got %d characters, want 1 to 36", a, len(a))
	}
	if again := token(write(1, "x", "y")); again != a {
		t.Errorf("same write twice: got tokens %q and %q, want equal (retries must be idempotent)", a, again)
	}
	otherJob := write(1, "x", "y")
	otherJob.Jobs[0].Email = "b@example.com"
	otherClaim := write(1, "x", "y")
	otherClaim.Claims[0].Value = "v2"
	otherNow := write(1, "x", "y")
	otherNow.Now = at.Add(time.Second)
	for name, other := range map[string]consent.Write{
		"other position":    write(2, "x", "y"),
		"other ids":         write(1, "x", "z"),
		"other job content": otherJob,
		"other claim value": otherClaim,
		"other time":        otherNow,
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
	if _, err := s.Events(ctx, "s"); !errors.Is(err, boom) {
		t.Errorf("Events: got %v, want it to wrap %v", err, boom)
	}
	at := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	if _, err := storetest.Claim(ctx, s, "k", at, at.Add(time.Hour)); !errors.Is(err, boom) {
		t.Errorf("Claim: got %v, want it to wrap %v", err, boom)
	}
	v := consent.WordingVersion{ID: "w1", Wording: "Yes."}
	if err := s.ArchiveWording(ctx, "m", v, at); !errors.Is(err, boom) || errors.Is(err, consent.ErrConflict) {
		t.Errorf("ArchiveWording: got %v, want it to wrap %v and not ErrConflict", err, boom)
	}
	if _, err := s.Wording(ctx, "m", "w1"); !errors.Is(err, boom) || errors.Is(err, consent.ErrNotFound) {
		t.Errorf("Wording: got %v, want it to wrap %v and not ErrNotFound", err, boom)
	}
	if _, err := s.GetClaim(ctx, "k", at); !errors.Is(err, boom) || errors.Is(err, consent.ErrNotFound) {
		t.Errorf("GetClaim: got %v, want it to wrap %v and not ErrNotFound", err, boom)
	}
	if _, err := s.Job(ctx, "j"); !errors.Is(err, boom) || errors.Is(err, consent.ErrNotFound) {
		t.Errorf("Job: got %v, want it to wrap %v and not ErrNotFound", err, boom)
	}
	if _, err := s.DueJobs(ctx, at, 10); !errors.Is(err, boom) {
		t.Errorf("DueJobs: got %v, want it to wrap %v", err, boom)
	}
	for _, from := range []consent.JobState{consent.JobPending, consent.JobFailed} {
		u := consent.JobUpdate{ID: "j", From: from, To: consent.JobPending, UpdatedAt: at}
		if _, err := s.UpdateJob(ctx, u); !errors.Is(err, boom) || errors.Is(err, consent.ErrNotFound) || errors.Is(err, consent.ErrConflict) {
			t.Errorf("UpdateJob from %s: got %v, want it to wrap %v and neither ErrNotFound nor ErrConflict", from, err, boom)
		}
	}
	if _, err := s.Tombstone(ctx, "t"); !errors.Is(err, boom) || errors.Is(err, consent.ErrNotFound) {
		t.Errorf("Tombstone: got %v, want it to wrap %v and not ErrNotFound", err, boom)
	}
	if _, err := s.Erase(ctx, "s", consent.Tombstone{ID: "t", At: at}); !errors.Is(err, boom) {
		t.Errorf("Erase: got %v, want it to wrap %v", err, boom)
	}
	if err := s.ScanEvents(ctx, nil, func(consent.Event) error { return nil }); !errors.Is(err, boom) {
		t.Errorf("ScanEvents: got %v, want it to wrap %v", err, boom)
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

// The real client satisfies the narrow interface the store consumes.
var _ dynamostore.API = (*dynamodb.Client)(nil)
