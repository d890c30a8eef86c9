// Package keysource loads the link-signing keyring and the subject key for
// the local server and the operator's tool: from a deployed stack's two
// Secrets Manager secrets when they are named, so lookups find the stack's
// subscribers, or else from the local data directory's keys.json.
package keysource

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/unbundled/unbundled/shared/secretkeys"
	"github.com/unbundled/unbundled/shared/token"
)

// Flags names the stack's secrets; both empty means keys.json.
type Flags struct {
	SigningSecret string
	SubjectSecret string
}

// Register adds -signing-keys-secret and -subject-key-secret to fs.
func (f *Flags) Register(fs *flag.FlagSet) {
	fs.StringVar(&f.SigningSecret, "signing-keys-secret", "", "a deployed stack's SigningKeysSecret (Secrets Manager id), read with the standard AWS environment; with -subject-key-secret, use the stack's keys instead of keys.json")
	fs.StringVar(&f.SubjectSecret, "subject-key-secret", "", "a deployed stack's SubjectKeySecret (Secrets Manager id); see -signing-keys-secret")
}

// FromStack reports whether the flags name the stack's secrets.
func (f Flags) FromStack() bool { return f.SigningSecret != "" || f.SubjectSecret != "" }

// Load returns the keys: from the stack's secrets if named (both are
// needed), else from dataDir/keys.json — created there if create is set,
// otherwise a missing file is an error naming it.
func (f Flags) Load(ctx context.Context, dataDir string, create bool) (token.Keys, error) {
	if f.FromStack() {
		if f.SigningSecret == "" || f.SubjectSecret == "" {
			return token.Keys{}, errors.New("-signing-keys-secret and -subject-key-secret go together: name both of the stack's secrets")
		}
		cfg, err := awsconfig.LoadDefaultConfig(ctx)
		if err != nil {
			return token.Keys{}, fmt.Errorf("load AWS config: %w", err)
		}
		return secretkeys.Load(ctx, secretsmanager.NewFromConfig(cfg), f.SigningSecret, f.SubjectSecret)
	}
	path := filepath.Join(dataDir, "keys.json")
	if create {
		return token.LoadOrCreateFile(path)
	}
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return token.Keys{}, fmt.Errorf("no keys file at %s: point -data at the local server's data directory", path)
	}
	if err != nil {
		return token.Keys{}, fmt.Errorf("read keys file: %w", err)
	}
	keys, err := token.ParseKeys(data)
	if err != nil {
		return token.Keys{}, fmt.Errorf("keys file %s: %w", path, err)
	}
	return keys, nil
}
