// Command feedback is the FeedbackFunction Lambda: subscribed to the SNS
// topic SES publishes bounces and complaints to, it records each permanent
// bounce (no mail again) and complaint (also a withdrawal) in the ledger.
package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/unbundled/unbundled/functions/internal/awsapp"
	"github.com/unbundled/unbundled/functions/internal/feedback"
)

func main() {
	app, err := awsapp.New(context.Background(), os.Getenv)
	if err != nil {
		slog.Error("init failed", "error", err)
		os.Exit(1)
	}
	lambda.Start(feedback.Handler(app.Service))
}
