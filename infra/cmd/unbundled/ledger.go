package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/unbundled/unbundled/infra/internal/keysource"
	"github.com/unbundled/unbundled/infra/internal/storeflag"
	"github.com/unbundled/unbundled/shared/config"
	"github.com/unbundled/unbundled/shared/consent"
	"github.com/unbundled/unbundled/shared/magnet"
	"github.com/unbundled/unbundled/shared/sqlitestore"
)

// ledgerFlags are the flags every command shares with the local server.
type ledgerFlags struct {
	data, store, table, magnets string
	keys                        keysource.Flags
	baseURL                     string
}

// localBaseURL is the local server's default -base-url.
const localBaseURL = "http://127.0.0.1:8080"

func (f *ledgerFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.data, "data", "data", "the local server's data directory (its SQLite file and keys.json)")
	fs.StringVar(&f.store, "store", storeflag.SQLite, "where the ledger lives: sqlite (in -data) or dynamodb (table -table, with the standard AWS environment)")
	fs.StringVar(&f.table, "table", "unbundled-local", "DynamoDB table for -store dynamodb (the stack's ConsentTable)")
	fs.StringVar(&f.magnets, "magnets", "infra/local/magnets.json", "magnet catalog JSON file (the one the stack or local server runs with)")
	f.keys.Register(fs)
	fs.StringVar(&f.baseURL, "base-url", "", "what links (may-email's opt_out_url) start with: the local server's -base-url (default "+localBaseURL+" with -store sqlite), or with -store dynamodb the stack's PublicBaseURL, else its ApiUrl")
}

// open builds a read-only view of the service on the store the flags name.
// Keys come from the local server's keys.json, or from the stack's secrets:
// never created here, so a wrong -data fails rather than answering "none"
// for everyone.
func (f *ledgerFlags) open(ctx context.Context) (*consent.Service, func() error, error) {
	catalog, err := magnet.Load(f.magnets)
	if err != nil {
		return nil, nil, err
	}
	baseURL := f.baseURL
	if baseURL == "" && f.store != storeflag.DynamoDB {
		baseURL = localBaseURL
	}
	if baseURL != "" {
		if err := config.CheckBaseURL(baseURL); err != nil {
			return nil, nil, fmt.Errorf("-base-url: %w", err)
		}
	}
	if f.store == storeflag.DynamoDB && !f.keys.FromStack() {
		return nil, nil, errors.New("-store dynamodb needs -signing-keys-secret and -subject-key-secret (the stack's outputs), so lookups use the stack's own keys")
	}
	keys, err := f.keys.Load(ctx, f.data, false)
	if err != nil {
		return nil, nil, err
	}
	store, err := storeflag.Open(ctx, f.store, f.table)
	if err != nil {
		return nil, nil, err
	}
	closeStore := func() error { return nil }
	if store == nil {
		path := filepath.Join(f.data, "unbundled.db")
		if _, err := os.Stat(path); err != nil {
			return nil, nil, fmt.Errorf("no ledger at %s: point -data at the local server's data directory: %w", path, err)
		}
		db, err := sqlitestore.Open(path)
		if err != nil {
			return nil, nil, err
		}
		store, closeStore = db, db.Close
	}
	svc := &consent.Service{Catalog: catalog, Ledger: store, Wordings: store, Counters: store, Erasure: store, Scanner: store, Jobs: store, Minimiser: store, Keys: keys, BaseURL: baseURL, Now: time.Now}
	return svc, closeStore, nil
}

// command is what every command shares: a flag set with the ledger flags,
// its usage text, parsing, and the operands it takes.
type command struct {
	name     string // as typed after "unbundled": "may-email", "suppression list"
	operands string // operandAddresses, operandAddress, operandFile or operandNone
	fs       *flag.FlagSet
	ledger   ledgerFlags
	stderr   io.Writer
}

// What a command takes after its flags.
const (
	operandAddresses = "ADDRESS..." // at least one
	operandAddress   = "ADDRESS"    // exactly one
	operandFile      = "FILE"       // exactly one
	operandNone      = ""
)

// newCommand returns the command name ("import"), taking operands (after
// [flags] in its usage, e.g. "FILE"), described for -h by about; add its
// own flags to c.fs before calling parse.
func newCommand(name, operands, about string, stderr io.Writer) *command {
	c := &command{name: name, operands: operands, fs: flag.NewFlagSet(name, flag.ContinueOnError), stderr: stderr}
	c.fs.SetOutput(stderr)
	c.ledger.register(c.fs)
	c.fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: unbundled %s\n\n%s\n\nFlags:\n", strings.TrimSpace(name+" [flags] "+operands), about)
		c.fs.PrintDefaults()
	}
	return c
}

// newAddressCommand returns a command taking one or more addresses.
func newAddressCommand(name, about string, stderr io.Writer) *command {
	return newCommand(name, operandAddresses, about, stderr)
}

// parse reads args. If the command must not run it returns false and the
// exit code: 0 after -h, 2 for a usage error (said on stderr).
func (c *command) parse(args []string) (bool, int) {
	if err := c.fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return false, 0
		}
		return false, 2
	}
	var problem string
	switch n := c.fs.NArg(); {
	case c.operands == operandAddresses && n == 0:
		problem = "name at least one address"
	case c.operands == operandAddress && n == 0:
		problem = "name the address"
	case c.operands == operandAddress && n > 1:
		problem = fmt.Sprintf("name one address, then nothing more (flags go before it): got %q", c.fs.Args())
	case c.operands == operandFile && n == 0:
		problem = "name the file to read"
	case c.operands == operandFile && n > 1:
		problem = fmt.Sprintf("name one file, then nothing more (flags go before it): got %q", c.fs.Args())
	case c.operands == operandNone && n > 0:
		problem = fmt.Sprintf("unexpected %q (flags go before anything else)", c.fs.Arg(0))
	}
	if problem != "" {
		c.errorf("%s", problem)
		c.fs.Usage()
		return false, 2
	}
	return true, 0
}

// errorf reports a problem on stderr, prefixed with the command.
func (c *command) errorf(format string, args ...any) {
	fmt.Fprintf(c.stderr, "unbundled %s: %s\n", c.name, fmt.Sprintf(format, args...))
}
