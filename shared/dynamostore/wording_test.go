package dynamostore_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/unbundled/unbundled/shared/consent"
	"github.com/unbundled/unbundled/shared/dynamostore"
	"github.com/unbundled/unbundled/shared/magnet"
)

// recordingAPI passes calls to the emulator and records which operations
// the store made. With hideOldItem set it drops the stored item from a
// refused PutItem's or UpdateItem's error, as an emulator without
// ReturnValuesOnConditionCheckFailure would.
type recordingAPI struct {
	next        dynamostore.API
	hideOldItem bool

	mu  sync.Mutex
	ops []string
}

func (r *recordingAPI) record(op string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ops = append(r.ops, op)
}

func (r *recordingAPI) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	ops := r.ops
	r.ops = nil
	return ops
}

func (r *recordingAPI) PutItem(ctx context.Context, in *dynamodb.PutItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	r.record("PutItem")
	out, err := r.next.PutItem(ctx, in, optFns...)
	var failed *types.ConditionalCheckFailedException
	if r.hideOldItem && errors.As(err, &failed) {
		failed.Item = nil
	}
	return out, err
}

func (r *recordingAPI) Query(ctx context.Context, in *dynamodb.QueryInput, optFns ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	r.record("Query")
	return r.next.Query(ctx, in, optFns...)
}

func (r *recordingAPI) Scan(ctx context.Context, in *dynamodb.ScanInput, optFns ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error) {
	r.record("Scan")
	return r.next.Scan(ctx, in, optFns...)
}

func (r *recordingAPI) DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error) {
	r.record("DeleteItem")
	return r.next.DeleteItem(ctx, in, optFns...)
}

func (r *recordingAPI) TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, optFns ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	r.record("TransactWriteItems")
	return r.next.TransactWriteItems(ctx, in, optFns...)
}

func (r *recordingAPI) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	r.record("UpdateItem")
	out, err := r.next.UpdateItem(ctx, in, optFns...)
	var failed *types.ConditionalCheckFailedException
	if r.hideOldItem && errors.As(err, &failed) {
		failed.Item = nil
	}
	return out, err
}

// TestArchiveWordingCalls pins the DynamoDB operations ArchiveWording and
// Wording make (the IAM policy allows only PutItem and Query), and that a
// repeated or conflicting archive compares content using the item the
// refused PutItem returned, or a Query where the response carries none.
func TestArchiveWordingCalls(t *testing.T) {
	v := consent.NewWordingVersion(magnet.Magnet{ConsentWording: "Yes, email me.", Frequency: "monthly", Controller: "Example Ltd"})
	forged := v
	forged.Wording = "Yes, email me daily."
	at := time.Date(2025, 1, 2, 3, 4, 5, 6, time.UTC)
	for _, hide := range []bool{false, true} {
		name := "stored item returned"
		extraRead := []string(nil)
		if hide {
			name, extraRead = "stored item not returned", []string{"Query"}
		}
		t.Run(name, func(t *testing.T) {
			api := &recordingAPI{next: client, hideOldItem: hide}
			s := dynamostore.New(api, newTable(t))
			ctx := context.Background()
			steps := []struct {
				name         string
				magnet       string
				v            consent.WordingVersion
				wantConflict bool
				wantOps      []string
			}{
				{"first archive", "guide", v, false, []string{"PutItem", "PutItem"}},
				{"again", "guide", v, false, append(append([]string{"PutItem"}, extraRead...), "PutItem")},
				{"another magnet", "other", v, false, append(append([]string{"PutItem"}, extraRead...), "PutItem")},
				{"different content", "third", forged, true, append([]string{"PutItem"}, extraRead...)},
			}
			for _, step := range steps {
				err := s.ArchiveWording(ctx, step.magnet, step.v, at)
				switch {
				case step.wantConflict && !errors.Is(err, consent.ErrConflict):
					t.Errorf("%s: got error %v, want one wrapping consent.ErrConflict", step.name, err)
				case !step.wantConflict && err != nil:
					t.Errorf("%s: got error %v, want nil", step.name, err)
				}
				if got := api.take(); !slices.Equal(got, step.wantOps) {
					t.Errorf("%s: got operations %v, want %v", step.name, got, step.wantOps)
				}
			}
			got, err := s.Wording(ctx, "other", v.ID)
			if want := (consent.WordingVersion{ID: v.ID, Wording: v.Wording, PrivacyPolicyURL: v.PrivacyPolicyURL,
				Frequency: v.Frequency, Controller: v.Controller, ArchivedAt: at}); err != nil || got != want {
				t.Errorf("Wording: got %+v, %v, want %+v, nil", got, err, want)
			}
			if ops := api.take(); !slices.Equal(ops, []string{"Query"}) {
				t.Errorf("Wording: got operations %v, want one Query", ops)
			}
		})
	}
}
