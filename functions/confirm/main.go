// Command confirm is the ConfirmFunction Lambda: it serves double opt-in confirm links and resends.
package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/unbundled/unbundled/shared/awsapp"
	"github.com/unbundled/unbundled/shared/lambdahttp"
	"github.com/unbundled/unbundled/shared/web"
)

func main() {
	app, err := awsapp.New(context.Background(), os.Getenv)
	if err != nil {
		slog.Error("init failed", "error", err)
		os.Exit(1)
	}
	lambda.Start(lambdahttp.New(app.Server.Handler(web.ConfirmFunction), app.Config.PublicBaseURL))
}
