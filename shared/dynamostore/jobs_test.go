package dynamostore_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/unbundled/unbundled/shared/consent"
	"github.com/unbundled/unbundled/shared/dynamostore"
)

// rawItem reads the item pk, sk as stored, or nil.
func rawItem(t *testing.T, table, pk, sk string) map[string]types.AttributeValue {
	t.Helper()
	out, err := client.Query(context.Background(), &dynamodb.QueryInput{
		TableName:              aws.String(table),
		KeyConditionExpression: aws.String("pk = :pk AND sk = :sk"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk": &types.AttributeValueMemberS{Value: pk},
			":sk": &types.AttributeValueMemberS{Value: sk},
		},
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Items) == 0 {
		return nil
	}
	return out.Items[0]
}

// attrs renders an item's attributes as name → "S:value" / "N:value", for
// comparing with a want map.
func attrs(item map[string]types.AttributeValue) map[string]string {
	out := map[string]string{}
	for k, v := range item {
		switch v := v.(type) {
		case *types.AttributeValueMemberS:
			out[k] = "S:" + v.Value
		case *types.AttributeValueMemberN:
			out[k] = "N:" + v.Value
		default:
			out[k] = "other"
		}
	}
	return out
}

func sameAttrs(t *testing.T, what string, got map[string]types.AttributeValue, want map[string]string) {
	t.Helper()
	g := attrs(got)
	for k, w := range want {
		if g[k] != w {
			t.Errorf("%s: attribute %s: got %q, want %q", what, k, g[k], w)
		}
	}
	for k := range g {
		if _, ok := want[k]; !ok {
			t.Errorf("%s: unexpected attribute %s = %q", what, k, g[k])
		}
	}
}

// TestJobAndClaimItems pins the stored shape of job and claim items (README,
// "Data model"): the deliver function's stream filter matches type "job",
// and the sparse due-jobs index must lose a job once it is finished.
func TestJobAndClaimItems(t *testing.T) {
	ctx := context.Background()
	table := newTable(t)
	s := dynamostore.New(client, table)
	created := time.Date(2025, 3, 14, 9, 26, 53, 589793238, time.UTC)
	j := consent.Job{
		ID: "j1", Kind: consent.JobFreebie, Subscriber: "sub", Magnet: "guide", Email: "ann@example.com", Name: "Ann",
		State: consent.JobPending, CreatedAt: created, UpdatedAt: created, BaseURL: "https://example.com",
		ExpiresAt: created.Add(time.Hour), // rounded up to whole seconds
	}
	now := created.Add(time.Minute)
	if err := s.Commit(ctx, consent.Write{Now: now, Jobs: []consent.Job{j}, Claims: []consent.ClaimRecord{
		{Key: "idem#1", Value: "fp", ExpiresAt: now.Add(24 * time.Hour)},
		{Key: "dedupe#1", ExpiresAt: now.Add(10 * time.Minute)},
	}}); err != nil {
		t.Fatal(err)
	}
	base := map[string]string{
		"pk": "S:JOB#j1", "sk": "S:JOB", "type": "S:job", "id": "S:j1",
		"kind": "S:freebie", "subscriber": "S:sub", "magnet": "S:guide", "email": "S:ann@example.com", "name": "S:Ann",
		"attempts": "N:0", "created_at": "S:2025-03-14T09:26:53.589793238Z", "updated_at": "S:2025-03-14T09:26:53.589793238Z",
		"base_url": "S:https://example.com", "expires_at": "N:1741948014",
	}
	with := func(changes map[string]string) map[string]string {
		out := map[string]string{}
		for k, v := range base {
			out[k] = v
		}
		for k, v := range changes {
			if v == "" {
				delete(out, k)
			} else {
				out[k] = v
			}
		}
		return out
	}
	due := map[string]string{"gsi1pk": "S:JOBS#due", "gsi1sk": "S:2025-03-14T09:26:53.589793238Z#j1"}
	sameAttrs(t, "new job", rawItem(t, table, "JOB#j1", "JOB"), with(mergeMaps(due, map[string]string{"state": "S:pending"})))
	sameAttrs(t, "claim with a value", rawItem(t, table, "CLAIM#idem#1", "CLAIM"),
		map[string]string{"pk": "S:CLAIM#idem#1", "sk": "S:CLAIM", "value": "S:fp", "expires_at": "N:1742030874"})
	sameAttrs(t, "claim without a value", rawItem(t, table, "CLAIM#dedupe#1", "CLAIM"),
		map[string]string{"pk": "S:CLAIM#dedupe#1", "sk": "S:CLAIM", "expires_at": "N:1741945074"})

	steps := []struct {
		name string
		u    consent.JobUpdate
		want map[string]string
	}{
		{"taken", consent.JobUpdate{ID: "j1", From: consent.JobPending, To: consent.JobSending, Attempts: 1, UpdatedAt: now,
			LeaseUntil: now.Add(5 * time.Minute), ExpiresAt: j.ExpiresAt},
			with(mergeMaps(due, map[string]string{"state": "S:sending", "attempts": "N:1", "updated_at": "S:2025-03-14T09:27:53.589793238Z",
				"lease_until": "S:2025-03-14T09:32:53.589793238Z"}))},
		{"sent: off the index, lease gone", consent.JobUpdate{ID: "j1", From: consent.JobSending, To: consent.JobSent, Attempts: 1,
			UpdatedAt: now, MessageID: "m1", ExpiresAt: j.ExpiresAt},
			with(map[string]string{"state": "S:sent", "attempts": "N:1", "updated_at": "S:2025-03-14T09:27:53.589793238Z", "message_id": "S:m1"})},
		{"put back: on the index again, without expiry", consent.JobUpdate{ID: "j1", From: consent.JobSent, To: consent.JobPending,
			UpdatedAt: now, Reason: "operator"},
			with(mergeMaps(due, map[string]string{"state": "S:pending", "updated_at": "S:2025-03-14T09:27:53.589793238Z", "reason": "S:operator", "expires_at": ""}))},
	}
	for _, step := range steps {
		if _, err := s.UpdateJob(ctx, step.u); err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		sameAttrs(t, step.name, rawItem(t, table, "JOB#j1", "JOB"), step.want)
	}
}

func mergeMaps(a, b map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out
}

// TestJobCalls pins the DynamoDB operations of the new Store methods: the
// functions' IAM policy allows PutItem, Query and UpdateItem (and
// TransactWriteItems of puts) on the table, and no GetItem.
func TestJobCalls(t *testing.T) {
	for _, hide := range []bool{false, true} {
		name := "stored item returned"
		var extraRead []string
		if hide {
			name, extraRead = "stored item not returned", []string{"Query"}
		}
		t.Run(name, func(t *testing.T) {
			api := &recordingAPI{next: client, hideOldItem: hide}
			s := dynamostore.New(api, newTable(t))
			ctx := context.Background()
			now := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
			job := func(id string) consent.Job { return consent.Job{ID: id, State: consent.JobPending, CreatedAt: now} }
			claim := consent.ClaimRecord{Key: "k", Value: "v", ExpiresAt: now.Add(time.Hour)}
			take := consent.JobUpdate{ID: "j1", From: consent.JobPending, To: consent.JobSending, UpdatedAt: now, LeaseUntil: now.Add(time.Minute)}
			steps := []struct {
				name    string
				call    func() error
				wantErr error
				wantOps []string
			}{
				{"commit one job", func() error { return s.Commit(ctx, consent.Write{Now: now, Jobs: []consent.Job{job("j1")}}) }, nil, []string{"PutItem"}},
				{"commit a job and a claim", func() error {
					return s.Commit(ctx, consent.Write{Now: now, Jobs: []consent.Job{job("j2")}, Claims: []consent.ClaimRecord{claim}})
				}, nil, []string{"TransactWriteItems"}},
				{"get claim", func() error { _, err := s.GetClaim(ctx, "k", now); return err }, nil, []string{"Query"}},
				{"job", func() error { _, err := s.Job(ctx, "j1"); return err }, nil, []string{"Query"}},
				{"take a job", func() error { _, err := s.UpdateJob(ctx, take); return err }, nil, []string{"UpdateItem"}},
				{"take it again", func() error { _, err := s.UpdateJob(ctx, take); return err }, consent.ErrConflict, append([]string{"UpdateItem"}, extraRead...)},
				{"take a missing job", func() error {
					u := take
					u.ID = "nothing"
					_, err := s.UpdateJob(ctx, u)
					return err
				}, consent.ErrNotFound, []string{"UpdateItem", "Query"}},
				{"finish a job", func() error {
					_, err := s.UpdateJob(ctx, consent.JobUpdate{ID: "j1", From: consent.JobSending, To: consent.JobFailed, UpdatedAt: now})
					return err
				}, nil, []string{"UpdateItem"}},
				{"put a finished job back", func() error {
					_, err := s.UpdateJob(ctx, consent.JobUpdate{ID: "j1", From: consent.JobFailed, To: consent.JobPending, UpdatedAt: now})
					return err
				}, nil, []string{"Query", "UpdateItem"}},
				{"due jobs", func() error { _, err := s.DueJobs(ctx, now, 10); return err }, nil, []string{"Query"}},
			}
			for _, step := range steps {
				err := step.call()
				switch {
				case step.wantErr == nil && err != nil:
					t.Errorf("%s: got error %v, want nil", step.name, err)
				case step.wantErr != nil && !errors.Is(err, step.wantErr):
					t.Errorf("%s: got error %v, want one wrapping %v", step.name, err, step.wantErr)
				}
				if got := api.take(); !slices.Equal(got, step.wantOps) {
					t.Errorf("%s: got operations %v, want %v", step.name, got, step.wantOps)
				}
			}
		})
	}
}
