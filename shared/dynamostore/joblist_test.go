package dynamostore_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/unbundled/unbundled/shared/consent"
	"github.com/unbundled/unbundled/shared/dynamostore"
)

func TestListJobsPagesAreFollowed(t *testing.T) {
	ctx := context.Background()
	table := &pagedTable{pageSize: 2}
	s := dynamostore.New(table, "table")
	at := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	var want []string
	for _, id := range []string{"j1", "j2", "j3", "j4", "j5"} {
		j := consent.Job{ID: id, Kind: consent.JobFreebie, Subscriber: "s", State: consent.JobFailed, CreatedAt: at}
		if err := s.Commit(ctx, consent.Write{Now: at, Jobs: []consent.Job{j}}); err != nil {
			t.Fatal(err)
		}
		want = append(want, id)
	}
	var got []string
	if err := s.ListJobs(ctx, consent.JobFilter{State: consent.JobFailed}, func(j consent.Job) error {
		got = append(got, j.ID)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, want) {
		t.Errorf("ListJobs over pages of 2: got %v, want %v", got, want)
	}
	if table.scans != 3 {
		t.Errorf("got %d Scan calls, want 3 (one per page)", table.scans)
	}
}

// TestJobRetryCalls pins the DynamoDB operations the operator's job
// listing and retry make, which the AdminFunction's IAM policy in
// template.yaml must allow — Scan to list, Query and UpdateItem to move a
// failed job back to pending — and checks that the retried job is in the
// due-jobs index again, where SweepFunction finds it.
func TestJobRetryCalls(t *testing.T) {
	api := &recordingAPI{next: client}
	s := dynamostore.New(api, newTable(t))
	ctx := context.Background()
	at := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	failed := consent.Job{ID: "j1", Kind: consent.JobFreebie, Subscriber: "s", State: consent.JobFailed, CreatedAt: at, Reason: "MessageRejected"}
	if err := s.Commit(ctx, consent.Write{Now: at, Jobs: []consent.Job{failed}}); err != nil {
		t.Fatal(err)
	}
	api.take()
	steps := []struct {
		name    string
		call    func() error
		wantOps []string
	}{
		{"ListJobs", func() error {
			return s.ListJobs(ctx, consent.JobFilter{State: consent.JobFailed}, func(consent.Job) error { return nil })
		}, []string{"Scan"}},
		{"UpdateJob failed → pending", func() error {
			_, err := s.UpdateJob(ctx, consent.JobUpdate{ID: "j1", From: consent.JobFailed, To: consent.JobPending, UpdatedAt: at.Add(time.Hour)})
			return err
		}, []string{"Query", "UpdateItem"}},
	}
	for _, step := range steps {
		if err := step.call(); err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		if got := api.take(); !slices.Equal(got, step.wantOps) {
			t.Errorf("%s: DynamoDB calls %v, want %v", step.name, got, step.wantOps)
		}
	}
	due, err := s.DueJobs(ctx, at.Add(time.Hour), 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(due) != 1 || due[0].ID != "j1" || due[0].State != consent.JobPending || due[0].Reason != "" {
		t.Errorf("due jobs after the retry: got %+v, want j1, pending, without its reason", due)
	}
}
