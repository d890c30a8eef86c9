// Package awsapp wires the AWS side once per Lambda instance: typed config,
// SDK clients, adapters, the domain service and the web server. Functions'
// mains call New at init and hand one piece to the Lambda runtime.
package awsapp

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"golang.org/x/time/rate"

	"github.com/unbundled/unbundled/functions/internal/emf"
	"github.com/unbundled/unbundled/functions/internal/lambdahttp"
	"github.com/unbundled/unbundled/shared/config"
	"github.com/unbundled/unbundled/shared/consent"
	"github.com/unbundled/unbundled/shared/dynamostore"
	"github.com/unbundled/unbundled/shared/magnet"
	"github.com/unbundled/unbundled/shared/secretkeys"
	"github.com/unbundled/unbundled/shared/sesmail"
	"github.com/unbundled/unbundled/shared/web"
	"github.com/unbundled/unbundled/shared/webhook"
)

// App is a wired function instance.
type App struct {
	Config  config.Lambda
	Service *consent.Service
	Server  *web.Server
	Logger  *slog.Logger
	aws     aws.Config
	jobs    consent.JobQueue
}

// New reads configuration through getenv and builds everything but the
// mailer. Any error is a configuration or start-up problem: the function
// should fail at init.
func New(ctx context.Context, getenv func(string) string) (*App, error) {
	// JSON from the first line, so even a configuration error is structured.
	slog.SetDefault(slog.New(slog.NewJSONHandler(os.Stdout, nil)))
	cfg, err := config.FromEnv(getenv)
	if err != nil {
		return nil, err
	}
	logger := slog.New(slog.NewJSONHandler(os.Stdout, &slog.HandlerOptions{Level: cfg.LogLevel}))
	slog.SetDefault(logger)
	catalog, err := magnet.Load(cfg.MagnetsFile)
	if err != nil {
		return nil, err
	}
	if !cfg.AllowLocalLinks {
		if err := catalog.LocalOnlyLinks(); err != nil {
			return nil, fmt.Errorf("magnet catalog %s: %w", cfg.MagnetsFile, err)
		}
	}
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("load AWS config: %w", err)
	}
	keys, err := secretkeys.Load(ctx, secretsmanager.NewFromConfig(awsCfg), cfg.SigningKeysSecret, cfg.SubjectKeySecret)
	if err != nil {
		return nil, err
	}
	store := dynamostore.New(dynamodb.NewFromConfig(awsCfg), cfg.TableName)
	service := &consent.Service{
		Catalog:  catalog,
		Ledger:   store,
		Wordings: store,
		Counters: store,
		Erasure:  store, // erasing and scanning need the admin, retention or unsubscribe function's permissions
		Scanner:  store,
		Jobs:     store,
		Limits:   cfg.Limits,
		Notify:   cfg.WebhookURL != "",
		Keys:     keys,
		BaseURL:  cfg.PublicBaseURL,
		Now:      time.Now,

		// Minimising evidence needs the RetentionFunction's permissions, or the
		// AdminFunction's (POST /admin/retention).
		Minimiser: store,
		Retention: cfg.Retention,
		Hosting:   consent.Hosting{Region: awsCfg.Region},

		// The consent dashboard's counts, as CloudWatch metrics in the
		// function's log (template.yaml's ConsentDashboard charts them).
		Metrics: emf.New(os.Stdout),
	}
	return &App{
		Config: cfg, Service: service, Logger: logger, aws: awsCfg, jobs: store,
		Server: &web.Server{Service: service, Catalog: catalog, Logger: logger, FormMinAge: cfg.FormMinAge},
	}, nil
}

// Deliverer sends queued jobs through SES at the configured pace, and
// notifications to the webhook if one is configured (only the delivering
// functions read its secret). The SDK's own retries are off: the
// deliverer's bounded, jittered backoff handles throttling and records the
// outcome.
func (a *App) Deliverer(ctx context.Context) (*consent.Deliverer, error) {
	client := sesv2.NewFromConfig(a.aws, func(o *sesv2.Options) { o.RetryMaxAttempts = 1 })
	d := &consent.Deliverer{
		Service: a.Service,
		Jobs:    consent.CountedJobs{JobQueue: a.jobs, Metrics: a.Service.Metrics}, // freebies sent or failed, as metrics
		Mailer:  sesmail.New(client, sesmail.Options{ConfigurationSetName: a.Config.ConfigurationSet}),
		Limiter: rate.NewLimiter(rate.Limit(a.Config.MaxSendRate), 1),
	}
	if a.Config.WebhookURL != "" {
		secret, err := secretkeys.String(ctx, secretsmanager.NewFromConfig(a.aws), a.Config.WebhookSecret)
		if err != nil {
			return nil, fmt.Errorf("webhook secret: %w", err)
		}
		if d.Notifier, err = webhook.New(a.Config.WebhookURL, []byte(secret), nil); err != nil {
			return nil, err
		}
	}
	return d, nil
}

// ServeRoutes is the whole main of an HTTP function: it wires the app at
// init (exiting with the reason if configuration is wrong) and serves the
// routes of function, as declared in web.Routes, through API Gateway.
func ServeRoutes(function string) {
	app, err := New(context.Background(), os.Getenv)
	if err != nil {
		slog.Error("init failed", "function", function, "error", err.Error())
		os.Exit(1)
	}
	if function == web.AdminFunction {
		// Its only routes are IAM-authorised in template.yaml: API Gateway
		// has checked the caller's credentials before invoking it.
		app.Server.AdminAllowed = func(*http.Request) bool { return true }
	}
	lambda.Start(lambdahttp.New(app.Server.Handler(function), app.Config.PublicBaseURL))
}
