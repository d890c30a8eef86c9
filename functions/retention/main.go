// Command retention is the RetentionFunction Lambda: once a day, on an
// EventBridge schedule, it applies the retention policy
// (consent.Service.ApplyRetention) — people past their period are erased,
// keeping a tombstone, and old evidence is minimised — and logs what it
// did, as counts only: never an address.
package main

import (
	"context"
	"log/slog"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/unbundled/unbundled/functions/internal/awsapp"
	"github.com/unbundled/unbundled/shared/consent"
)

// margin is kept before the function's timeout, so a long run stops
// cleanly and logs its counts; the next run goes on where it stopped.
const margin = 15 * time.Second

func main() {
	app, err := awsapp.New(context.Background(), os.Getenv)
	if err != nil {
		slog.Error("init failed", "error", err)
		os.Exit(1)
	}
	lambda.Start(func(ctx context.Context) error {
		if deadline, ok := ctx.Deadline(); ok {
			var cancel context.CancelFunc
			ctx, cancel = context.WithDeadline(ctx, deadline.Add(-margin))
			defer cancel()
		}
		r, err := app.Service.ApplyRetention(ctx, consent.RetentionOptions{})
		attrs := []any{"people", r.People, "kept", r.Kept, "erased_unconfirmed", r.ErasedUnconfirmed, "erased_withdrawn", r.ErasedWithdrawn,
			"people_minimised", r.PeopleMinimised, "events_minimised", r.EventsMinimised, "failed", r.Failed}
		if err != nil {
			app.Logger.ErrorContext(ctx, "retention incomplete", append(attrs, "error", err.Error())...)
			return err
		}
		app.Logger.InfoContext(ctx, "retention", attrs...)
		return nil
	})
}
