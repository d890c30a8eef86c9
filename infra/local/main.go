// Command local runs unbundled on this machine with nothing but Go: the
// public API, a demo landing page, a local mailbox and a ledger view, stored
// in an embedded SQLite file.
//
//	go run ./infra/local [-addr 127.0.0.1:8080] [-data ./data] [-magnets infra/local/magnets.json] [-mailer mailbox|ses] [-store sqlite|dynamodb] [-table unbundled-local]
//
// With -mailer ses, mail goes through Amazon SES v2 using the standard AWS
// environment (AWS_REGION, credentials, and AWS_ENDPOINT_URL_SESV2 to point
// it at an emulator or at infra/cmd/sesstandin).
//
// With -store dynamodb the ledger lives in the DynamoDB table -table (default
// unbundled-local, as in infra/local/env.json) instead, reached with the standard AWS
// environment; for moto set AWS_ENDPOINT_URL_DYNAMODB and create the table with
// `go run ./infra/cmd/setup-emulators`. Keys stay in the data directory.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"

	"github.com/unbundled/unbundled/infra/internal/keysource"
	"github.com/unbundled/unbundled/infra/internal/storeflag"
	"github.com/unbundled/unbundled/shared/config"
	"github.com/unbundled/unbundled/shared/consent"
	"github.com/unbundled/unbundled/shared/sesmail"
	"github.com/unbundled/unbundled/shared/token"
)

const defaultMagnets = "infra/local/magnets.json"

// defaultTable is the DynamoDB table for -store dynamodb: the name
// infra/local/env.json gives the functions under sam local.
const defaultTable = "unbundled-local"

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "unbundled local server:", err)
		os.Exit(1)
	}
}

func run() error {
	addr := flag.String("addr", "127.0.0.1:8080", "address to listen on")
	data := flag.String("data", "data", "directory for the database, mailbox and keys files")
	magnets := flag.String("magnets", defaultMagnets, "magnet catalog JSON file (the embedded sample if the default is absent)")
	baseURL := flag.String("base-url", "", "public URL that emailed links start with (default http://<listen address>)")
	storeKind := flag.String("store", storeflag.SQLite, "where the ledger lives: sqlite (an embedded file in -data) or dynamodb (table -table, reached with the standard AWS environment)")
	table := flag.String("table", defaultTable, "DynamoDB table for -store dynamodb")
	mailerKind := flag.String("mailer", "mailbox", "where mail goes: mailbox (the local mailbox) or ses (Amazon SES v2 from the AWS environment)")
	configSet := flag.String("ses-configuration-set", "", "SES configuration set for every message (with -mailer ses)")
	maxRate := flag.Float64("max-rate", 0, "most emails sent per second (0: no limit)")
	limitsMode := flag.String("limits", "on", "on: per-address email caps and per-source sign-up limits as tuned below; off: none (load tests, demos)")
	limits := consent.DefaultLimits
	flag.IntVar(&limits.EmailsPerAddress, "emails-per-address", limits.EmailsPerAddress, "most emails of any kind to one address per -email-window (0: no cap)")
	flag.DurationVar(&limits.EmailWindow, "email-window", limits.EmailWindow, "rolling window of -emails-per-address")
	flag.IntVar(&limits.SignupsPerSource, "signups-per-source", limits.SignupsPerSource, "most sign-ups and withdrawal-link requests from one IP (IPv6: /64) per -source-window (0: no limit)")
	flag.DurationVar(&limits.SourceWindow, "source-window", limits.SourceWindow, "window of -signups-per-source")
	webhookURL := flag.String("webhook-url", "", "URL told of every withdrawal, objection, bounce and complaint (signed with the secret in -data/webhook-secret); empty: none")
	formMinAge := flag.Duration("form-min-age", config.DefaultFormMinAge, "a rendered form posted sooner than this is treated as a bot: same answer, nothing stored (0: off)")
	retentionFlags := registerRetentionFlags(flag.CommandLine)
	var keyFlags keysource.Flags
	keyFlags.Register(flag.CommandLine)
	flag.Parse()
	retention, retentionEvery, err := retentionFlags()
	if err != nil {
		return err
	}
	switch {
	case *limitsMode == "off":
		limits = consent.Limits{}
	case *limitsMode != "on":
		return fmt.Errorf("-limits %q: want on or off", *limitsMode)
	case limits.EmailsPerAddress < 0 || limits.SignupsPerSource < 0 || limits.EmailWindow <= 0 || limits.SourceWindow <= 0:
		return errors.New("-emails-per-address and -signups-per-source must be 0 or more, and the windows positive")
	}
	if *formMinAge < 0 {
		return errors.New("-form-min-age must not be negative")
	}

	logger := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	slog.SetDefault(logger)
	catalog := *magnets
	if _, err := os.Stat(catalog); catalog == defaultMagnets && errors.Is(err, fs.ErrNotExist) {
		catalog = ""
		logger.Info("using the embedded sample magnets", "missing", defaultMagnets)
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	if *baseURL == "" {
		*baseURL = "http://" + ln.Addr().String()
	}
	if err := config.CheckBaseURL(*baseURL); err != nil {
		return fmt.Errorf("-base-url: %w", err)
	}
	mailer, err := newMailer(context.Background(), *mailerKind, *configSet)
	if err != nil {
		return err
	}
	store, err := storeflag.Open(context.Background(), *storeKind, *table)
	if err != nil {
		return err
	}
	var keys *token.Keys
	switch {
	case keyFlags.FromStack():
		k, err := keyFlags.Load(context.Background(), *data, false)
		if err != nil {
			return err
		}
		keys = &k
	case *storeKind == storeflag.DynamoDB:
		logger.Warn("keys come from -data's keys.json: people who signed up through a deployed stack will not be found; pass -signing-keys-secret and -subject-key-secret to use the stack's keys")
	}
	app, err := New(Options{DataDir: *data, MagnetsFile: catalog, BaseURL: *baseURL, Store: store, Keys: keys, Mailer: mailer, MaxSendRate: *maxRate, Limits: limits, WebhookURL: *webhookURL, FormMinAge: *formMinAge, Retention: retention, RetentionEvery: retentionEvery, Logger: logger})
	if err != nil {
		return err
	}
	defer app.Close()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	fmt.Printf("unbundled is running at %s\n  demo landing page  %s/\n  local mailbox      %s/_local/mailbox\n  mailer             %s\n  store              %s\n  data directory     %s\n  limits             %s\n  webhook            %s\nPress Ctrl+C to stop.\n",
		*baseURL, *baseURL, *baseURL, *mailerKind, *storeKind, *data, describeLimits(limits), describeWebhook(*webhookURL, *data))
	return Serve(ctx, ln, app)
}

// newMailer returns the mailer -mailer names; nil means the local mailbox.
// The SES client has SDK retries off, as on Lambda: the deliverer's own
// backoff handles throttling.
func newMailer(ctx context.Context, kind, configSet string) (consent.Mailer, error) {
	switch kind {
	case "mailbox":
		return nil, nil
	case "ses":
		cfg, err := awsconfig.LoadDefaultConfig(ctx)
		if err != nil {
			return nil, fmt.Errorf("-mailer ses: load AWS config: %w", err)
		}
		client := sesv2.NewFromConfig(cfg, func(o *sesv2.Options) { o.RetryMaxAttempts = 1 })
		return sesmail.New(client, sesmail.Options{ConfigurationSetName: configSet}), nil
	default:
		return nil, fmt.Errorf("-mailer %q: want mailbox or ses", kind)
	}
}

// describeLimits is the start-up banner's line about limits.
func describeLimits(l consent.Limits) string {
	if l == (consent.Limits{}) {
		return "off (-limits off)"
	}
	return fmt.Sprintf("%d emails per address per %s, %d sign-ups per source per %s",
		l.EmailsPerAddress, l.EmailWindow, l.SignupsPerSource, l.SourceWindow)
}

// describeWebhook is the start-up banner's line about the webhook.
func describeWebhook(url, dataDir string) string {
	if url == "" {
		return "none (-webhook-url)"
	}
	return url + " (signing secret in " + filepath.Join(dataDir, "webhook-secret") + ")"
}
