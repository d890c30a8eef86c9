package dynamostore_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/unbundled/unbundled/infra/testkit/streamtest"
	"github.com/unbundled/unbundled/shared/consent"
	"github.com/unbundled/unbundled/shared/dynamostore"
)

// TestStreamAnnouncesNewJobs commits jobs on the emulator, as one item and
// inside a transaction with events and a claim, then reads the table's
// stream as Lambda would deliver it: each job appears as exactly one INSERT
// whose NewImage has type "job" and the job's id (what the deliver
// function's filter and handler match), and nothing else does.
func TestStreamAnnouncesNewJobs(t *testing.T) {
	ctx := context.Background()
	table := newTable(t)
	s := dynamostore.New(client, table)
	now := time.Date(2025, 3, 14, 9, 26, 53, 0, time.UTC)
	job := func(id string) consent.Job {
		return consent.Job{ID: id, Kind: consent.JobFreebie, Email: id + "@example.com", State: consent.JobPending, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
	}
	writes := []consent.Write{
		{Now: now, Jobs: []consent.Job{job("solo")}},
		{Now: now, Events: []consent.Event{
			{Subscriber: "sub", Seq: 1, ID: "e1", Type: consent.EventSignup, At: now, Magnet: "guide"},
			{Subscriber: "sub", Seq: 2, ID: "e2", Type: consent.EventGranted, At: now, Magnet: "guide"},
		}, Jobs: []consent.Job{job("in-tx")}, Claims: []consent.ClaimRecord{{Key: "idem#1", Value: "fp", ExpiresAt: now.Add(time.Hour)}}},
	}
	for _, w := range writes {
		if err := s.Commit(ctx, w); err != nil {
			t.Fatal(err)
		}
	}
	// Updates and refused writes announce no new job.
	if _, err := s.UpdateJob(ctx, consent.JobUpdate{ID: "solo", From: consent.JobPending, To: consent.JobSending, UpdatedAt: now, LeaseUntil: now.Add(time.Minute)}); err != nil {
		t.Fatal(err)
	}
	if err := s.Commit(ctx, consent.Write{Now: now, Jobs: []consent.Job{job("in-tx"), job("refused")}}); err == nil {
		t.Fatal("Commit of a taken job id: got nil error, want a conflict")
	}

	records, err := streamtest.Records(ctx, streams, table)
	if err != nil {
		t.Fatal(err)
	}
	inserted := map[string][]events.DynamoDBEventRecord{}
	for _, r := range records {
		if r.EventName != string(events.DynamoDBOperationTypeInsert) {
			continue
		}
		img := r.Change.NewImage
		if typ, ok := img["type"]; ok && typ.DataType() == events.DataTypeString && typ.String() == "job" {
			inserted[img["id"].String()] = append(inserted[img["id"].String()], r)
		}
	}
	if len(inserted) != 2 {
		t.Errorf("job INSERT records: got ids %v, want solo and in-tx", keysOf(inserted))
	}
	for _, id := range []string{"solo", "in-tx"} {
		got := inserted[id]
		if len(got) != 1 {
			t.Errorf("job %s: got %d INSERT records, want 1", id, len(got))
			continue
		}
		r := got[0]
		if pk := r.Change.Keys["pk"].String(); pk != "JOB#"+id {
			t.Errorf("job %s: got key pk %q, want %q", id, pk, "JOB#"+id)
		}
		if email := r.Change.NewImage["email"].String(); email != id+"@example.com" {
			t.Errorf("job %s: got NewImage email %q, want %q", id, email, id+"@example.com")
		}
		if r.Change.SequenceNumber == "" {
			t.Errorf("job %s: empty SequenceNumber (the handler reports failures by it)", id)
		}
		if !strings.Contains(r.EventSourceArn, ":table/"+table+"/stream/") {
			t.Errorf("job %s: got eventSourceARN %q, want the stream of table %s", id, r.EventSourceArn, table)
		}
		if r.Change.StreamViewType != "NEW_IMAGE" {
			t.Errorf("job %s: got StreamViewType %q, want NEW_IMAGE", id, r.Change.StreamViewType)
		}
	}
	// Every write made a record: 2 jobs, 2 events, 1 claim, 1 update.
	if len(records) != 6 {
		t.Errorf("stream: got %d records, want 6", len(records))
	}
}

func keysOf[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
