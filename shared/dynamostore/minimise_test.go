package dynamostore_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/unbundled/unbundled/shared/consent"
	"github.com/unbundled/unbundled/shared/dynamostore"
)

// TestMinimiseEvidenceCalls pins the DynamoDB operations MinimiseEvidence
// makes, which the RetentionFunction's IAM policy in template.yaml must
// allow: one Query, then one UpdateItem per event it changes.
func TestMinimiseEvidenceCalls(t *testing.T) {
	api := &recordingAPI{next: client}
	s := dynamostore.New(api, newTable(t))
	ctx := context.Background()
	at := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	ev := func(seq int, ip, ua string) consent.Event {
		return consent.Event{Subscriber: "s", Seq: seq, ID: "e" + string(rune('0'+seq)), Type: consent.EventSignup, At: at, Magnet: "m", SourceIP: ip, UserAgent: ua}
	}
	if err := s.Commit(ctx, consent.Write{Now: at, Events: []consent.Event{ev(1, "203.0.113.9", "UA"), ev(2, "", ""), ev(3, "", "UA")}}); err != nil {
		t.Fatal(err)
	}
	api.take()
	for _, step := range []struct {
		name    string
		want    int
		wantOps []string
	}{
		{"minimise", 2, []string{"Query", "UpdateItem", "UpdateItem"}},
		{"again", 0, []string{"Query"}},
	} {
		n, err := s.MinimiseEvidence(ctx, "s", at.Add(time.Hour))
		if err != nil || n != step.want {
			t.Errorf("%s: got %d, %v; want %d", step.name, n, err, step.want)
		}
		if got := api.take(); !slices.Equal(got, step.wantOps) {
			t.Errorf("%s: got operations %v, want %v", step.name, got, step.wantOps)
		}
	}
}

// replacingAPI erases the subscriber and signs them up again at the same
// position just before the first UpdateItem: what an erasure and a new
// sign-up between the retention run's read and its write look like.
type replacingAPI struct {
	*recordingAPI
	store    *dynamostore.Store
	replaced consent.Event
	done     bool
}

func (r *replacingAPI) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	if !r.done {
		r.done = true
		if _, err := r.store.Erase(ctx, r.replaced.Subscriber, consent.Tombstone{ID: "t", At: r.replaced.At, Reason: "request"}); err != nil {
			return nil, err
		}
		if err := r.store.Commit(ctx, consent.Write{Now: r.replaced.At, Events: []consent.Event{r.replaced}}); err != nil {
			return nil, err
		}
	}
	return r.recordingAPI.UpdateItem(ctx, in, optFns...)
}

// TestMinimiseEvidenceLeavesAReplacedEventAlone: the update is conditional
// on the event's id, so a new event at the position read is not touched.
func TestMinimiseEvidenceLeavesAReplacedEventAlone(t *testing.T) {
	table := newTable(t)
	at := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	direct := dynamostore.New(client, table)
	old := consent.Event{Subscriber: "s", Seq: 1, ID: "old", Type: consent.EventSignup, At: at, Magnet: "m", SourceIP: "203.0.113.9", UserAgent: "UA"}
	fresh := old
	fresh.ID, fresh.SourceIP = "new", "198.51.100.7"
	ctx := context.Background()
	if err := direct.Commit(ctx, consent.Write{Now: at, Events: []consent.Event{old}}); err != nil {
		t.Fatal(err)
	}
	api := &replacingAPI{recordingAPI: &recordingAPI{next: client}, store: direct, replaced: fresh}
	n, err := dynamostore.New(api, table).MinimiseEvidence(ctx, "s", at.Add(time.Hour))
	if err != nil || n != 0 {
		t.Errorf("MinimiseEvidence: got %d, %v; want 0 events changed", n, err)
	}
	got, err := direct.Events(ctx, "s")
	if err != nil || len(got) != 1 || got[0] != fresh {
		t.Errorf("ledger: got %+v, %v; want the new event untouched", got, err)
	}
}
