// Command local runs unbundled on this machine with nothing but Go: the
// public API, a demo landing page, a local mailbox and a ledger view, stored
// in an embedded SQLite file.
//
//	go run ./infra/local [-addr 127.0.0.1:8080] [-data ./data] [-magnets infra/magnets.json]
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
	"syscall"

	"github.com/unbundled/unbundled/infra/localserver"
	"github.com/unbundled/unbundled/shared/config"
)

const defaultMagnets = "infra/magnets.json"

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
	flag.Parse()

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
	app, err := localserver.New(localserver.Options{DataDir: *data, MagnetsFile: catalog, BaseURL: *baseURL, Logger: logger})
	if err != nil {
		return err
	}
	defer app.Close()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	fmt.Printf("unbundled is running at %s\n  demo landing page  %s/\n  local mailbox      %s/_local/mailbox\n  data directory     %s\nPress Ctrl+C to stop.\n",
		*baseURL, *baseURL, *baseURL, *data)
	return localserver.Serve(ctx, ln, app)
}
