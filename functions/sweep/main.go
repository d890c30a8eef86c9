// Command sweep is the SweepFunction Lambda: on a schedule it delivers jobs
// still due (pending after the stream gave up, or held by a sender that
// crashed), so no accepted sign-up loses its freebie.
package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/unbundled/unbundled/functions/internal/awsapp"
)

// batch bounds one run; the schedule picks up the rest.
const batch = 200

func main() {
	app, err := awsapp.New(context.Background(), os.Getenv)
	if err != nil {
		slog.Error("init failed", "error", err)
		os.Exit(1)
	}
	d, err := app.Deliverer(context.Background())
	if err != nil {
		slog.Error("init failed", "error", err)
		os.Exit(1)
	}
	lambda.Start(func(ctx context.Context) error {
		sent, err := d.DeliverDue(ctx, batch)
		app.Logger.InfoContext(ctx, "sweep", "sent", sent)
		return err
	})
}
