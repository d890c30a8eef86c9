package token

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Keys is every secret the service holds: signing keys for link tokens and
// the subject key for subscriber ids (and, later, erasure hashes).
type Keys struct {
	Signing *Keyring
	Subject SubjectHasher
}

// keyFile is the local keys file:
//
//	{"signing": {"active": "k1", "k1": "…"}, "subject": "…"}
type keyFile struct {
	Signing json.RawMessage `json:"signing"`
	Subject string          `json:"subject"`
}

// ParseKeys reads the keys-file JSON.
func ParseKeys(data []byte) (Keys, error) {
	var f keyFile
	if err := json.Unmarshal(data, &f); err != nil {
		return Keys{}, fmt.Errorf("decode keys JSON: %w", err)
	}
	return NewKeys(f.Signing, []byte(f.Subject))
}

// NewKeys builds Keys from the signing keyring JSON (see ParseKeyring) and the
// subject secret.
func NewKeys(signingJSON, subject []byte) (Keys, error) {
	ring, err := ParseKeyring(signingJSON)
	if err != nil {
		return Keys{}, fmt.Errorf("signing keys: %w", err)
	}
	hasher, err := NewSubjectHasher(subject)
	if err != nil {
		return Keys{}, err
	}
	return Keys{Signing: ring, Subject: hasher}, nil
}

// LoadOrCreateFile reads the keys file at path, creating it with fresh random
// keys (mode 0600) if it does not exist. To rotate, add a key to "signing" and
// point "active" at it; keep the old key so links already sent still work.
func LoadOrCreateFile(path string) (Keys, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		if err := createKeyFile(path); err != nil {
			return Keys{}, err
		}
		data, err = os.ReadFile(path)
	}
	if err != nil {
		return Keys{}, fmt.Errorf("read keys file: %w", err)
	}
	keys, err := ParseKeys(data)
	if err != nil {
		return Keys{}, fmt.Errorf("keys file %s: %w", path, err)
	}
	return keys, nil
}

// createKeyFile writes fresh random keys to path with mode 0600. If another
// process created the file first, theirs is kept.
func createKeyFile(path string) error {
	data, err := json.MarshalIndent(map[string]any{
		"signing": map[string]string{"active": "k1", "k1": NewSecret()},
		"subject": NewSecret(),
	}, "", "  ")
	if err != nil {
		return fmt.Errorf("encode new keys: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("create keys directory: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("create keys file: %w", err)
	}
	_, werr := f.Write(data)
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		return fmt.Errorf("write keys file: %w", werr)
	}
	return nil
}
