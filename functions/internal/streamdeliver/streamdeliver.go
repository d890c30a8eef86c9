// Package streamdeliver turns DynamoDB stream records of new delivery jobs
// into deliveries: the AWS side of the outbox.
package streamdeliver

import (
	"context"
	"errors"
	"log/slog"

	"github.com/aws/aws-lambda-go/events"

	"github.com/unbundled/unbundled/shared/consent"
)

// Deliverer is what the handler needs of consent.Deliverer.
type Deliverer interface {
	Deliver(ctx context.Context, id string) (consent.Outcome, error)
}

// Handler returns the Lambda handler for the table's stream. The event
// source mapping's filter passes only inserts of job items; anything else
// is ignored here too. A job that could not be delivered yet is reported as
// a batch item failure, so Lambda retries from it (bounded by the mapping's
// MaximumRetryAttempts, then the record goes to the on-failure queue while
// the job stays pending in the table for the sweep). Redelivered records are
// harmless: Deliver takes a job at most once.
func Handler(d Deliverer, logger *slog.Logger) func(ctx context.Context, e events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
	return func(ctx context.Context, e events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
		var resp events.DynamoDBEventResponse
		for _, r := range e.Records {
			id, ok := jobID(r)
			if !ok {
				continue
			}
			outcome, err := d.Deliver(ctx, id)
			if err != nil {
				level := slog.LevelError
				if errors.Is(err, consent.ErrDeferred) {
					level = slog.LevelWarn
				}
				logger.LogAttrs(ctx, level, "delivery not done", slog.String("job", id), slog.String("error", err.Error()))
				resp.BatchItemFailures = append(resp.BatchItemFailures, events.DynamoDBBatchItemFailure{ItemIdentifier: r.Change.SequenceNumber})
				continue
			}
			logger.LogAttrs(ctx, slog.LevelInfo, "delivery", slog.String("job", id), slog.String("outcome", string(outcome)))
		}
		return resp, nil
	}
}

// jobID returns the id of a newly inserted job item.
func jobID(r events.DynamoDBEventRecord) (string, bool) {
	if r.EventName != string(events.DynamoDBOperationTypeInsert) {
		return "", false
	}
	img := r.Change.NewImage
	typ, ok := img["type"]
	if !ok || typ.DataType() != events.DataTypeString || typ.String() != "job" {
		return "", false
	}
	id, ok := img["id"]
	if !ok || id.DataType() != events.DataTypeString || id.String() == "" {
		return "", false
	}
	return id.String(), true
}
