package streamdeliver_test

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"

	"github.com/unbundled/unbundled/functions/internal/streamdeliver"
	"github.com/unbundled/unbundled/infra/testkit/awssetup"
	"github.com/unbundled/unbundled/infra/testkit/emulators"
	"github.com/unbundled/unbundled/infra/testkit/streamtest"
	"github.com/unbundled/unbundled/shared/consent"
	"github.com/unbundled/unbundled/shared/consent/consenttest"
	"github.com/unbundled/unbundled/shared/dynamostore"
)

// TestStreamDrivenDeliveryOnMoto proves the outbox on the DynamoDB side: the
// sign-up's transaction lands in moto, the table's stream carries the new
// job, and feeding that record to the handler as Lambda would — three times
// — sends one email and marks the job sent by conditional writes in moto.
func TestStreamDrivenDeliveryOnMoto(t *testing.T) {
	ctx := context.Background()
	moto := emulators.StartMotoForTest(t)
	for k, v := range emulators.AWSEnv(moto.Endpoint, "") {
		t.Setenv(k, v)
	}
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		t.Fatal(err)
	}
	db := dynamodb.NewFromConfig(cfg)
	root, err := emulators.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	tpl, err := os.ReadFile(root + "/template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	table := fmt.Sprintf("outbox-%d", time.Now().UnixNano())
	if err := awssetup.EnsureTable(ctx, db, tpl, table); err != nil {
		t.Fatal(err)
	}

	store := dynamostore.New(db, table)
	svc := newService(t, store)
	if err := svc.Signup(ctx, consent.SignupRequest{Email: "ann@example.com", Magnet: "uk-gdpr-checklist", Consent: true, Method: consent.MethodForm}); err != nil {
		t.Fatalf("sign-up on moto: %v", err)
	}
	streams := dynamodbstreams.NewFromConfig(cfg, func(o *dynamodbstreams.Options) { o.BaseEndpoint = aws.String(moto.Endpoint) })
	records, err := streamtest.Records(ctx, streams, table)
	if err != nil {
		t.Fatalf("read moto stream: %v", err)
	}
	var jobRecords []events.DynamoDBEventRecord
	for _, r := range records {
		if r.EventName == "INSERT" && r.Change.NewImage["type"].String() == "job" {
			jobRecords = append(jobRecords, r)
		}
	}
	if len(jobRecords) != 1 {
		t.Fatalf("job inserts on the stream: %d, want 1 (of %d records)", len(jobRecords), len(records))
	}

	mailer := &consenttest.Mailer{}
	handler := streamdeliver.Handler(&consent.Deliverer{Service: svc, Jobs: store, Mailer: mailer}, quiet)
	for i := range 3 {
		resp, err := handler(ctx, streamtest.Event(records)) // every record, as the unfiltered stream would
		if err != nil || len(resp.BatchItemFailures) != 0 {
			t.Fatalf("delivery #%d: %+v, %v", i+1, resp, err)
		}
	}
	if got := mailer.Calls(); got != 1 {
		t.Errorf("SES calls: %d, want 1", got)
	}
	id := jobRecords[0].Change.NewImage["id"].String()
	job, err := store.Job(ctx, id)
	if err != nil || job.State != consent.JobSent || job.Attempts != 1 {
		t.Errorf("job in moto: %+v, %v; want sent after one attempt", job, err)
	}
	if due, err := store.DueJobs(ctx, time.Now().Add(time.Hour), 10); err != nil || len(due) != 0 {
		t.Errorf("due jobs after delivery: %v, %v; want none", due, err)
	}
}
