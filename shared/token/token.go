// Package token signs and verifies the opaque tokens carried by emailed links
// (unsubscribe, confirm) and derives opaque subscriber ids from addresses.
//
// A token is "<key id>.<payload>.<mac>" with base64url payload and
// HMAC-SHA256 mac over the key id and payload. The payload holds a purpose,
// an opaque subject (never an email address), a scope and an optional expiry.
// Keys rotate: the keyring signs with its active key and verifies with any
// key it holds. Every malformed, tampered or unknown-key token gives the same
// ErrInvalid. Exactly one spelling of a token verifies: parts are decoded as
// strict unpadded base64url, so no other character sequence decodes to the
// same bytes.
package token

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// MinKeyLength is the shortest secret accepted, in bytes.
const MinKeyLength = 32

// maxTokenLength bounds the work done on attacker-supplied input.
const maxTokenLength = 512

var (
	// ErrInvalid is the one error for every token that fails verification.
	ErrInvalid = errors.New("invalid token")
	// ErrExpired is returned for a genuine token whose expiry has passed.
	ErrExpired = errors.New("expired token")
)

var keyIDPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,32}$`)

// encoding is the only accepted spelling of payload and mac: base64url
// without padding, with the unused low bits of the last character zero.
var encoding = base64.RawURLEncoding.Strict()

// Claims is what a token asserts.
type Claims struct {
	Purpose string    // e.g. "unsubscribe"; a token for one purpose never verifies for another
	Subject string    // opaque subscriber id
	Scope   string    // e.g. a magnet id
	Expires time.Time // zero: never expires
}

// Keyring holds the signing keys: one active key for new tokens, older keys
// kept so tokens already sent keep verifying.
type Keyring struct {
	active string
	keys   map[string][]byte
}

// NewKeyring builds a keyring; active must name one of keys and every key must
// be at least MinKeyLength bytes.
func NewKeyring(active string, keys map[string][]byte) (*Keyring, error) {
	if len(keys) == 0 {
		return nil, errors.New("keyring: no keys")
	}
	k := &Keyring{active: active, keys: make(map[string][]byte, len(keys))}
	for id, secret := range keys {
		if !keyIDPattern.MatchString(id) {
			return nil, fmt.Errorf("keyring: key id %q: use 1-32 characters of A-Z, a-z, 0-9, _ and -", id)
		}
		if len(secret) < MinKeyLength {
			return nil, fmt.Errorf("keyring: key %q: must be at least %d bytes", id, MinKeyLength)
		}
		k.keys[id] = append([]byte(nil), secret...)
	}
	if _, ok := k.keys[active]; !ok {
		return nil, fmt.Errorf("keyring: active key %q is not among the keys", active)
	}
	return k, nil
}

// ParseKeyring reads the flat JSON form {"active":"k2","k1":"…","k2":"…"}:
// "active" names the signing key, every other member is a key id and secret.
// It is the format of the signing-keys secret on AWS and of the "signing"
// member of the local keys file.
func ParseKeyring(data []byte) (*Keyring, error) {
	var raw map[string]string
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("keyring: decode JSON object of strings: %w", err)
	}
	active := raw["active"]
	delete(raw, "active")
	keys := make(map[string][]byte, len(raw))
	for id, secret := range raw {
		keys[id] = []byte(secret)
	}
	return NewKeyring(active, keys)
}

// ActiveKeyID names the key new tokens are signed with.
func (k *Keyring) ActiveKeyID() string { return k.active }

// Sign returns a token for c, signed with the active key.
func (k *Keyring) Sign(c Claims) string {
	exp := ""
	if !c.Expires.IsZero() {
		exp = strconv.FormatInt(c.Expires.Unix(), 10)
	}
	payload := encoding.EncodeToString([]byte(strings.Join([]string{c.Purpose, c.Subject, c.Scope, exp}, "\n")))
	return k.active + "." + payload + "." + encoding.EncodeToString(mac(k.keys[k.active], k.active, payload))
}

// Verify checks tok for the given purpose. It returns ErrInvalid for anything
// not signed by a key in the ring for that purpose, and the claims with
// ErrExpired for a genuine token past its expiry.
func (k *Keyring) Verify(purpose, tok string, now time.Time) (Claims, error) {
	if len(tok) > maxTokenLength || !tokenChars(tok) {
		return Claims{}, ErrInvalid
	}
	kid, rest, ok1 := strings.Cut(tok, ".")
	payload, sig, ok2 := strings.Cut(rest, ".")
	if !ok1 || !ok2 {
		return Claims{}, ErrInvalid
	}
	key, known := k.keys[kid]
	if !known {
		// Compute a mac anyway so an unknown key id costs the same time.
		key = make([]byte, MinKeyLength)
	}
	got, err := encoding.DecodeString(sig)
	want := mac(key, kid, payload)
	if !hmac.Equal(got, want) || err != nil || !known {
		return Claims{}, ErrInvalid
	}
	raw, err := encoding.DecodeString(payload)
	if err != nil {
		return Claims{}, ErrInvalid
	}
	parts := strings.Split(string(raw), "\n")
	if len(parts) != 4 || parts[0] != purpose {
		return Claims{}, ErrInvalid
	}
	c := Claims{Purpose: parts[0], Subject: parts[1], Scope: parts[2]}
	if parts[3] != "" {
		unix, err := strconv.ParseInt(parts[3], 10, 64)
		if err != nil {
			return Claims{}, ErrInvalid
		}
		c.Expires = time.Unix(unix, 0).UTC()
		if !now.Before(c.Expires) {
			return c, ErrExpired
		}
	}
	return c, nil
}

// tokenChars reports whether tok holds only base64url characters and dots.
// Decoders skip CR and LF even in strict mode, so they are refused here.
func tokenChars(tok string) bool {
	for i := range len(tok) {
		c := tok[i]
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

func mac(key []byte, kid, payload string) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte("unbundled-token-v1\n" + kid + "\n" + payload))
	return h.Sum(nil)
}

// SubjectHasher derives stable, opaque subscriber ids from normalised email
// addresses with a keyed hash, so ids reveal nothing without the key. The key
// is never rotated: changing it would orphan every ledger.
type SubjectHasher struct {
	key []byte
}

// NewSubjectHasher returns a hasher for a secret of at least MinKeyLength bytes.
func NewSubjectHasher(secret []byte) (SubjectHasher, error) {
	if len(secret) < MinKeyLength {
		return SubjectHasher{}, fmt.Errorf("subject key: must be at least %d bytes", MinKeyLength)
	}
	return SubjectHasher{key: append([]byte(nil), secret...)}, nil
}

var idEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// SubscriberID returns the opaque id for a normalised address.
func (h SubjectHasher) SubscriberID(normalisedEmail string) string {
	m := hmac.New(sha256.New, h.key)
	m.Write([]byte("subscriber\n" + normalisedEmail))
	return idEncoding.EncodeToString(m.Sum(nil)[:20])
}

// TombstoneID returns the keyed hash an erased address is remembered by. It
// differs from SubscriberID, so a tombstone never names the erased ledger.
func (h SubjectHasher) TombstoneID(normalisedEmail string) string {
	m := hmac.New(sha256.New, h.key)
	m.Write([]byte("tombstone\n" + normalisedEmail))
	return idEncoding.EncodeToString(m.Sum(nil)[:20])
}

// NewSecret returns a fresh random secret suitable for a key.
func NewSecret() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("crypto/rand failed: %v", err)) // never happens on supported platforms
	}
	return base64.RawURLEncoding.EncodeToString(b)
}
