// Package awsapp wires the AWS side once per Lambda instance: typed config,
// SDK clients, adapters, the domain service and the web server. Functions'
// mains call New at init and hand one route group to lambdahttp.
package awsapp

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"

	"github.com/unbundled/unbundled/shared/config"
	"github.com/unbundled/unbundled/shared/consent"
	"github.com/unbundled/unbundled/shared/dynamostore"
	"github.com/unbundled/unbundled/shared/magnet"
	"github.com/unbundled/unbundled/shared/secretkeys"
	"github.com/unbundled/unbundled/shared/sesmail"
	"github.com/unbundled/unbundled/shared/web"
)

// App is a wired function instance.
type App struct {
	Config config.Lambda
	Server *web.Server
}

// New reads configuration through getenv and builds everything. Any error is
// a configuration or start-up problem: the function should fail at init.
func New(ctx context.Context, getenv func(string) string) (*App, error) {
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
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("load AWS config: %w", err)
	}
	keys, err := secretkeys.Load(ctx, secretsmanager.NewFromConfig(awsCfg), cfg.SigningKeysSecret, cfg.SubjectKeySecret)
	if err != nil {
		return nil, err
	}
	service := &consent.Service{
		Catalog: catalog,
		Store:   dynamostore.New(dynamodb.NewFromConfig(awsCfg), cfg.TableName),
		Mailer:  sesmail.New(sesv2.NewFromConfig(awsCfg), sesmail.Options{}),
		Keys:    keys,
		BaseURL: cfg.PublicBaseURL,
		Now:     time.Now,
	}
	if err := service.ArchiveCurrentWordings(ctx); err != nil {
		return nil, err
	}
	return &App{Config: cfg, Server: &web.Server{Service: service, Catalog: catalog, Logger: logger}}, nil
}
