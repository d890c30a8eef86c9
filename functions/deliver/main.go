// Command deliver is the DeliverFunction Lambda: it consumes the table's
// stream of new delivery jobs and sends them through SES at a steady pace.
package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/unbundled/unbundled/functions/internal/awsapp"
	"github.com/unbundled/unbundled/functions/internal/streamdeliver"
)

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
	lambda.Start(streamdeliver.Handler(d, app.Logger))
}
