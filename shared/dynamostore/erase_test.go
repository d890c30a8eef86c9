package dynamostore_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/unbundled/unbundled/shared/consent"
	"github.com/unbundled/unbundled/shared/dynamostore"
)

// TestEraseCalls pins the DynamoDB operations erasure and the ledger export
// make, which the AdminFunction's IAM policy in template.yaml must allow:
// PutItem, Query, Scan and DeleteItem (no GetItem, no BatchWriteItem).
func TestEraseCalls(t *testing.T) {
	api := &recordingAPI{next: client}
	s := dynamostore.New(api, newTable(t))
	ctx := context.Background()
	at := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	w := consent.Write{
		Now:    at,
		Events: []consent.Event{{Subscriber: "s", Seq: 1, ID: "e1", Type: consent.EventSignup, At: at, Magnet: "m"}},
		Jobs:   []consent.Job{{ID: "j1", Subscriber: "s", State: consent.JobPending, CreatedAt: at}},
		Claims: []consent.ClaimRecord{{Key: "withdraw-link#s", ExpiresAt: at.Add(time.Hour)}},
	}
	if err := s.Commit(ctx, w); err != nil {
		t.Fatal(err)
	}
	api.take()

	steps := []struct {
		name    string
		call    func() error
		wantOps []string
	}{
		{"Erase", func() error {
			got, err := s.Erase(ctx, "s", consent.Tombstone{ID: "t", At: at, Reason: "request"})
			if want := (consent.Erased{Events: 1, Claims: 1, Jobs: 1}); err == nil && got != want {
				t.Errorf("Erase: got %+v, want %+v", got, want)
			}
			return err
		}, []string{"PutItem", "Query", "Scan", "DeleteItem", "DeleteItem", "DeleteItem"}},
		{"Erase again", func() error {
			_, err := s.Erase(ctx, "s", consent.Tombstone{ID: "t", At: at, Reason: "request"})
			return err
		}, []string{"PutItem", "Query", "Scan"}},
		{"Tombstone", func() error {
			_, err := s.Tombstone(ctx, "t")
			return err
		}, []string{"Query"}},
		{"ScanEvents", func() error {
			return s.ScanEvents(ctx, []consent.EventType{consent.EventSuppressed}, func(consent.Event) error { return nil })
		}, []string{"Scan"}},
	}
	for _, step := range steps {
		if err := step.call(); err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		if got := api.take(); !slices.Equal(got, step.wantOps) {
			t.Errorf("%s: got operations %v, want %v", step.name, got, step.wantOps)
		}
	}
}
