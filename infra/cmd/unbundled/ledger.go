package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/unbundled/unbundled/infra/internal/storeflag"
	"github.com/unbundled/unbundled/shared/consent"
	"github.com/unbundled/unbundled/shared/magnet"
	"github.com/unbundled/unbundled/shared/secretkeys"
	"github.com/unbundled/unbundled/shared/sqlitestore"
	"github.com/unbundled/unbundled/shared/token"
)

// ledgerFlags are the flags every command shares with the local server.
type ledgerFlags struct {
	data, store, table, magnets  string
	signingSecret, subjectSecret string
}

func (f *ledgerFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.data, "data", "data", "the local server's data directory (its SQLite file and keys.json)")
	fs.StringVar(&f.store, "store", storeflag.SQLite, "where the ledger lives: sqlite (in -data) or dynamodb (table -table, with the standard AWS environment)")
	fs.StringVar(&f.table, "table", "unbundled-local", "DynamoDB table for -store dynamodb (the stack's ConsentTable)")
	fs.StringVar(&f.magnets, "magnets", "infra/local/magnets.json", "magnet catalog JSON file (the one the stack or local server runs with)")
	fs.StringVar(&f.signingSecret, "signing-keys-secret", "", "with -store dynamodb: the stack's SigningKeysSecret (Secrets Manager id)")
	fs.StringVar(&f.subjectSecret, "subject-key-secret", "", "with -store dynamodb: the stack's SubjectKeySecret (Secrets Manager id)")
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
	var keys token.Keys
	switch f.store {
	case storeflag.DynamoDB:
		if f.signingSecret == "" || f.subjectSecret == "" {
			return nil, nil, errors.New("-store dynamodb needs -signing-keys-secret and -subject-key-secret (the stack's outputs), so lookups use the stack's own keys")
		}
		cfg, err := awsconfig.LoadDefaultConfig(ctx)
		if err != nil {
			return nil, nil, fmt.Errorf("load AWS config: %w", err)
		}
		if keys, err = secretkeys.Load(ctx, secretsmanager.NewFromConfig(cfg), f.signingSecret, f.subjectSecret); err != nil {
			return nil, nil, err
		}
	default:
		path := filepath.Join(f.data, "keys.json")
		data, err := os.ReadFile(path)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil, fmt.Errorf("no keys file at %s: point -data at the local server's data directory", path)
		}
		if err != nil {
			return nil, nil, fmt.Errorf("read keys file: %w", err)
		}
		if keys, err = token.ParseKeys(data); err != nil {
			return nil, nil, fmt.Errorf("keys file %s: %w", path, err)
		}
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
	svc := &consent.Service{Catalog: catalog, Ledger: store, Wordings: store, Counters: store, Keys: keys, Now: time.Now}
	return svc, closeStore, nil
}

// addressCommand is what every per-address command shares: a flag set with
// the ledger flags, its usage text, parsing, and at least one address.
type addressCommand struct {
	name   string
	fs     *flag.FlagSet
	ledger ledgerFlags
	stderr io.Writer
}

// newAddressCommand returns the command name ("may-email"), described for
// -h by about; add its own flags to c.fs before calling parse.
func newAddressCommand(name, about string, stderr io.Writer) *addressCommand {
	c := &addressCommand{name: name, fs: flag.NewFlagSet(name, flag.ContinueOnError), stderr: stderr}
	c.fs.SetOutput(stderr)
	c.ledger.register(c.fs)
	c.fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: unbundled %s [flags] ADDRESS...\n\n%s\n\nFlags:\n", name, about)
		c.fs.PrintDefaults()
	}
	return c
}

// parse reads args. If the command must not run it returns false and the
// exit code: 0 after -h, 2 for a usage error (said on stderr).
func (c *addressCommand) parse(args []string) (bool, int) {
	if err := c.fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return false, 0
		}
		return false, 2
	}
	if c.fs.NArg() == 0 {
		c.errorf("name at least one address")
		c.fs.Usage()
		return false, 2
	}
	return true, 0
}

// errorf reports a problem on stderr, prefixed with the command.
func (c *addressCommand) errorf(format string, args ...any) {
	fmt.Fprintf(c.stderr, "unbundled %s: %s\n", c.name, fmt.Sprintf(format, args...))
}
