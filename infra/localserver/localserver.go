// Package localserver is the embedded default: the whole public API plus a
// demo landing page, a local mailbox and a ledger view, on an embedded SQLite
// file — nothing but Go needed. The /_local/ routes exist only here, never
// on Lambda.
package localserver

import (
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

	"github.com/unbundled/unbundled/infra"
	"github.com/unbundled/unbundled/shared/consent"
	"github.com/unbundled/unbundled/shared/magnet"
	"github.com/unbundled/unbundled/shared/mailbox"
	"github.com/unbundled/unbundled/shared/sqlitestore"
	"github.com/unbundled/unbundled/shared/token"
	"github.com/unbundled/unbundled/shared/web"
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
	Store  consent.Store
	Logger *slog.Logger
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
	keys, err := token.LoadOrCreateFile(filepath.Join(opts.DataDir, "keys.json"))
	if err != nil {
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

	service := &consent.Service{Catalog: catalog, Store: store, Mailer: box, Keys: keys, BaseURL: opts.BaseURL, Now: time.Now}
	server := &web.Server{Service: service, Catalog: catalog, Logger: logger}

	files, err := fs.Sub(infra.Files, "files")
	if err != nil {
		return nil, fmt.Errorf("sample files: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/", server.Handler("")) // every public route, exactly as on Lambda
	mux.Handle("GET /{$}", server.Middleware(http.HandlerFunc(server.LandingPage)))
	mux.Handle("GET /_local/ledger.json", server.Middleware(ledgerHandler(service)))
	mux.Handle("GET /_local/files/", server.Middleware(http.StripPrefix("/_local/files/", http.FileServerFS(files))))
	boxHandler := server.Middleware(box.Handler())
	for _, p := range []string{"GET /_local/mailbox", "GET /_local/mailbox/", "GET /_local/mailbox.json"} {
		mux.Handle(p, boxHandler)
	}
	app.handler = mux
	return app, nil
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
		c, err := magnet.Parse(infra.SampleMagnets)
		if err != nil {
			return nil, fmt.Errorf("embedded sample magnets: %w", err)
		}
		return c, nil
	}
	return magnet.Load(path)
}

// ledgerHandler serves GET /_local/ledger.json?email=… : one person's ledger
// events, oldest first, with the recorded evidence.
func ledgerHandler(service *consent.Service) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		events, err := service.LedgerFor(r.Context(), r.URL.Query().Get("email"))
		var verr *consent.ValidationError
		switch {
		case errors.As(err, &verr):
			writeJSON(w, http.StatusBadRequest, map[string]any{"errors": verr.Fields})
		case err != nil:
			slog.ErrorContext(r.Context(), "read ledger", "error", err.Error())
			writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "could not read the ledger"})
		default:
			if events == nil {
				events = []consent.Event{}
			}
			writeJSON(w, http.StatusOK, events)
		}
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
