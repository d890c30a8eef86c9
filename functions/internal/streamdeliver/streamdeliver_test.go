package streamdeliver_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/unbundled/unbundled/functions/internal/streamdeliver"
	"github.com/unbundled/unbundled/shared/consent"
)

// fakeDeliverer records deliveries and answers from a script per job id.
type fakeDeliverer struct {
	calls  []string
	result map[string]error
}

func (f *fakeDeliverer) Deliver(_ context.Context, id string) (consent.Outcome, error) {
	f.calls = append(f.calls, id)
	if err := f.result[id]; err != nil {
		return "", err
	}
	return consent.OutcomeSent, nil
}

func fixture(t *testing.T, jobID string) events.DynamoDBEvent {
	t.Helper()
	data, err := os.ReadFile("testdata/job_insert.json")
	if err != nil {
		t.Fatal(err)
	}
	var e events.DynamoDBEvent
	if err := json.Unmarshal([]byte(strings.ReplaceAll(string(data), "JOBID", jobID)), &e); err != nil {
		t.Fatal(err)
	}
	return e
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func TestOnlyJobInsertsAreDelivered(t *testing.T) {
	d := &fakeDeliverer{}
	resp, err := streamdeliver.Handler(d, quiet)(context.Background(), fixture(t, "job-1"))
	if err != nil || len(resp.BatchItemFailures) != 0 {
		t.Fatalf("got %+v, %v; want no failures", resp, err)
	}
	if fmt.Sprint(d.calls) != "[job-1]" {
		t.Errorf("delivered %v, want only the job insert (not ledger events or TTL removals)", d.calls)
	}
}

func TestDeferredJobIsReportedForRetry(t *testing.T) {
	d := &fakeDeliverer{result: map[string]error{"job-2": fmt.Errorf("throttled: %w", consent.ErrDeferred)}}
	resp, err := streamdeliver.Handler(d, quiet)(context.Background(), fixture(t, "job-2"))
	if err != nil {
		t.Fatal(err)
	}
	want := []events.DynamoDBBatchItemFailure{{ItemIdentifier: "111100000000000000000001"}}
	if fmt.Sprint(resp.BatchItemFailures) != fmt.Sprint(want) {
		t.Errorf("failures: got %v, want %v", resp.BatchItemFailures, want)
	}
	d.result["job-2"] = errors.New("store unavailable")
	resp, _ = streamdeliver.Handler(d, quiet)(context.Background(), fixture(t, "job-2"))
	if len(resp.BatchItemFailures) != 1 {
		t.Errorf("an unexpected error must also be retried: %v", resp.BatchItemFailures)
	}
}
