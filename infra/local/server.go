package main

// The wiring of the embedded default: the whole public API plus a demo
// landing page, a local mailbox and a ledger view, on an embedded SQLite file
// — nothing but Go needed. The /_local/ routes exist only here, never on
// Lambda.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/time/rate"

	"github.com/unbundled/unbundled/shared/consent"
	"github.com/unbundled/unbundled/shared/magnet"
	"github.com/unbundled/unbundled/shared/mailbox"
	"github.com/unbundled/unbundled/shared/sqlitestore"
	"github.com/unbundled/unbundled/shared/token"
	"github.com/unbundled/unbundled/shared/web"
	"github.com/unbundled/unbundled/shared/webhook"
)

// Options configure the local server.
type Options struct {
	// DataDir holds the database, mailbox and keys files; created if missing.
	DataDir string
	// MagnetsFile is the magnet catalog; empty means the embedded sample.
	MagnetsFile string
	// BaseURL starts emailed links, e.g. http://127.0.0.1:8080.
	BaseURL string
	// Store, if set, replaces the embedded SQLite store (e.g. DynamoDB).
	Store consent.Store
	// Keys, if set, replace DataDir/keys.json — e.g. a deployed stack's
	// own keys, so the server finds the stack's subscribers.
	Keys *token.Keys
	// Mailer, if set, replaces the local mailbox for sending (e.g. SES or a
	// stand-in); the mailbox pages still show what the mailbox received.
	Mailer consent.Mailer
	// MaxSendRate paces delivery in emails per second; 0 means no limit.
	MaxSendRate float64
	// Limits bound emails per address and sign-ups per source (zero: off;
	// main passes consent.DefaultLimits unless -limits off).
	Limits consent.Limits
	// WebhookURL, if set, receives a signed notification of every
	// withdrawal, objection, bounce and complaint; the signing secret is
	// DataDir/webhook-secret, created on first use.
	WebhookURL string
	// FormMinAge is the time-trap's minimum form age (0: off).
	FormMinAge time.Duration
	Logger     *slog.Logger
	// Retention is the retention policy (zero periods: the defaults),
	// applied every RetentionEvery in the server (0: never here; `unbundled
	// retention run` applies it on demand).
	Retention      consent.Retention
	RetentionEvery time.Duration
}

// App is a running local server's handler and the files it holds open.
type App struct {
	handler http.Handler
	closers []func() error
}

// New opens (creating if needed) the data directory and wires everything.
func New(opts Options) (*App, error) {
	logger := opts.Logger
	if logger == nil {
		logger = slog.Default()
	}
	catalog, err := loadCatalog(opts.MagnetsFile)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(opts.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create data directory: %w", err)
	}
	var keys token.Keys
	if opts.Keys != nil {
		keys = *opts.Keys
	} else if keys, err = token.LoadOrCreateFile(filepath.Join(opts.DataDir, "keys.json")); err != nil {
		return nil, err
	}
	app := &App{}
	store := opts.Store
	if store == nil {
		db, err := sqlitestore.Open(filepath.Join(opts.DataDir, "unbundled.db"))
		if err != nil {
			return nil, err
		}
		app.closers = append(app.closers, db.Close)
		store = db
	}
	box, err := mailbox.Open(filepath.Join(opts.DataDir, "mailbox.db"))
	if err != nil {
		_ = app.Close()
		return nil, err
	}
	app.closers = append(app.closers, box.Close)

	service := &consent.Service{
		Catalog: catalog, Ledger: store, Wordings: store, Counters: store, Erasure: store, Scanner: store, Jobs: store, Limits: opts.Limits,
		Keys: keys, BaseURL: opts.BaseURL, Now: time.Now,
		// Privacy notices say data stays on this computer only when it does
		// (no DynamoDB store, no SES mailer).
		Hosting: consent.Hosting{Local: opts.Store == nil && opts.Mailer == nil},
	}
	service.Retention, service.Minimiser = opts.Retention, store
	deliverer := &consent.Deliverer{Service: service, Jobs: store, Mailer: opts.Mailer}
	if deliverer.Mailer == nil {
		deliverer.Mailer = box
	}
	if opts.WebhookURL != "" {
		secret, err := webhookSecret(filepath.Join(opts.DataDir, "webhook-secret"))
		if err != nil {
			_ = app.Close()
			return nil, err
		}
		if deliverer.Notifier, err = webhook.New(opts.WebhookURL, secret, nil); err != nil {
			_ = app.Close()
			return nil, fmt.Errorf("-webhook-url: %w", err)
		}
		service.Notify = true
	}
	if opts.MaxSendRate > 0 {
		deliverer.Limiter = rate.NewLimiter(rate.Limit(opts.MaxSendRate), 1)
	}
	outbox := newDispatcher(deliverer, logger)
	service.Kick = outbox.Kick
	metrics := newMemoryMetrics(time.Now()) // refused and trapped sign-ups, for /_local/dashboard
	service.Metrics = metrics
	server := &web.Server{Service: service, Catalog: catalog, Logger: logger, FormMinAge: opts.FormMinAge, AdminAllowed: web.LoopbackOnly}
	if err := service.ArchiveCurrentWordings(context.Background()); err != nil {
		_ = app.Close()
		return nil, err
	}
	if sweeper, ok := store.(expirySweeper); ok {
		app.closers = append(app.closers, sweepExpired(sweeper, logger))
	}
	app.closers = append(app.closers, outbox.start())
	if opts.RetentionEvery > 0 {
		app.closers = append(app.closers, applyRetentionEvery(service, opts.RetentionEvery, logger))
	}

	files, err := fs.Sub(sampleFiles, "files")
	if err != nil {
		return nil, fmt.Errorf("sample files: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/", server.Handler("")) // every public route, exactly as on Lambda
	mux.Handle("GET /{$}", server.Middleware(http.HandlerFunc(server.LandingPage)))
	mux.Handle("GET /_local/ledger.json", server.Middleware(ledgerHandler(service, catalog, "json")))
	mux.Handle("GET /_local/status.json", server.Middleware(ledgerHandler(service, catalog, "status")))
	mux.Handle("GET /_local/ledger", server.Middleware(ledgerHandler(service, catalog, "html")))
	mux.Handle("GET /_local/outbox.json", server.Middleware(outboxHandler(store)))
	mux.Handle("GET /_local/dashboard", server.Middleware(dashboardHandler(service, metrics, catalog, "html")))
	mux.Handle("GET /_local/dashboard.json", server.Middleware(dashboardHandler(service, metrics, catalog, "json")))
	mux.Handle("GET /_local/files/", server.Middleware(http.StripPrefix("/_local/files/", http.FileServerFS(files))))
	boxHandler := server.Middleware(box.Handler())
	for _, p := range []string{"GET /_local/mailbox", "GET /_local/mailbox/", "GET /_local/mailbox.json"} {
		mux.Handle(p, boxHandler)
	}
	app.handler = mux
	return app, nil
}

// expirySweeper is a store that deletes expired TTL records itself, as
// DynamoDB's TTL does on AWS.
type expirySweeper interface {
	DeleteExpired(ctx context.Context, now time.Time) (int64, error)
}

// sweepExpiredEvery is how often the local server removes expired records.
const sweepExpiredEvery = time.Minute

// sweepExpired runs the store's TTL sweep now and then every minute until
// the returned stop function is called.
func sweepExpired(store expirySweeper, logger *slog.Logger) func() error {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		ticker := time.NewTicker(sweepExpiredEvery)
		defer ticker.Stop()
		for {
			if n, err := store.DeleteExpired(ctx, time.Now()); err != nil && ctx.Err() == nil {
				logger.Error("delete expired records", "error", err.Error())
			} else if n > 0 {
				logger.Info("deleted expired records", "count", n)
			}
			select {
			case <-ctx.Done():
				return
			case <-ticker.C:
			}
		}
	}()
	return func() error {
		cancel()
		<-done
		return nil
	}
}

// ServeHTTP serves the local server's routes.
func (a *App) ServeHTTP(w http.ResponseWriter, r *http.Request) { a.handler.ServeHTTP(w, r) }

// Close closes the database files.
func (a *App) Close() error {
	var errs []error
	for i := len(a.closers) - 1; i >= 0; i-- {
		errs = append(errs, a.closers[i]())
	}
	return errors.Join(errs...)
}

func loadCatalog(path string) (*magnet.Catalog, error) {
	if path == "" {
		c, err := magnet.Parse(sampleMagnets)
		if err != nil {
			return nil, fmt.Errorf("embedded sample magnets: %w", err)
		}
		return c, nil
	}
	return magnet.Load(path)
}

// outboxHandler serves GET /_local/outbox.json: how many delivery jobs are
// still to send (pending, or being sent), at most 10000.
func outboxHandler(store consent.JobQueue) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		jobs, err := store.DueJobs(r.Context(), time.Now().Add(365*24*time.Hour), 10000)
		if err != nil {
			slog.ErrorContext(r.Context(), "list due jobs", "error", err.Error())
			writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "could not read the outbox"})
			return
		}
		writeJSON(w, http.StatusOK, map[string]int{"due": len(jobs)})
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// Serve serves h on ln until ctx is done, then shuts down gracefully.
func Serve(ctx context.Context, ln net.Listener, h http.Handler) error {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second, WriteTimeout: 30 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
		shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(shutdownCtx); err != nil {
			return fmt.Errorf("shut down: %w", err)
		}
		return nil
	}
}

// webhookSecret reads the webhook signing secret at path, creating it (mode
// 0600, 64 random characters) if it does not exist. Give its content to the
// receiving tool so it can verify deliveries.
func webhookSecret(path string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		data = []byte(token.NewSecret() + token.NewSecret())
		if err := os.WriteFile(path, data, 0o600); err != nil {
			return nil, fmt.Errorf("create webhook secret: %w", err)
		}
		return data, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read webhook secret: %w", err)
	}
	return bytes.TrimSpace(data), nil
}
