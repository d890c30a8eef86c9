package token

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var now = time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)

func ring(t *testing.T, active string, ids ...string) *Keyring {
	t.Helper()
	keys := map[string][]byte{}
	for _, id := range ids {
		keys[id] = []byte(strings.Repeat(id, 32)[:32])
	}
	k, err := NewKeyring(active, keys)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestSignVerifyRoundTrip(t *testing.T) {
	k := ring(t, "k1", "k1")
	c := Claims{Purpose: "unsubscribe", Subject: "sub123", Scope: "ebook"}
	got, err := k.Verify("unsubscribe", k.Sign(c), now)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if got != c {
		t.Errorf("claims: got %+v, want %+v", got, c)
	}
}

func TestRotation(t *testing.T) {
	old := ring(t, "k1", "k1")
	tok := old.Sign(Claims{Purpose: "unsubscribe", Subject: "s", Scope: "m"})
	rotated := ring(t, "k2", "k1", "k2")
	if _, err := rotated.Verify("unsubscribe", tok, now); err != nil {
		t.Errorf("token signed with previous key: got %v, want valid", err)
	}
	fresh := rotated.Sign(Claims{Purpose: "unsubscribe", Subject: "s", Scope: "m"})
	if !strings.HasPrefix(fresh, "k2.") {
		t.Errorf("new token %q not signed with active key k2", fresh)
	}
	if _, err := old.Verify("unsubscribe", fresh, now); !errors.Is(err, ErrInvalid) {
		t.Errorf("k2 token on a ring without k2: got %v, want ErrInvalid", err)
	}
}

func TestTamperedTokensAllFailTheSameWay(t *testing.T) {
	k := ring(t, "k1", "k1", "k2")
	tok := k.Sign(Claims{Purpose: "unsubscribe", Subject: "alice", Scope: "m"})
	other := k.Sign(Claims{Purpose: "unsubscribe", Subject: "bob", Scope: "m"})
	parts := strings.Split(tok, ".")
	otherParts := strings.Split(other, ".")
	flip := func(s string, i int) string {
		b := []byte(s)
		if b[i] == 'A' {
			b[i] = 'B'
		} else {
			b[i] = 'A'
		}
		return string(b)
	}
	cases := map[string]string{
		"empty":            "",
		"garbage":          "not-a-token",
		"bit flip in mac":  parts[0] + "." + parts[1] + "." + flip(parts[2], 3),
		"bit flip payload": parts[0] + "." + flip(parts[1], 2) + "." + parts[2],
		"truncated":        tok[:len(tok)-5],
		"wrong key id":     "k2." + parts[1] + "." + parts[2],
		"unknown key id":   "k9." + parts[1] + "." + parts[2],
		"other payload":    parts[0] + "." + otherParts[1] + "." + parts[2],
		"wrong purpose":    k.Sign(Claims{Purpose: "confirm", Subject: "alice", Scope: "m"}),
		"huge":             strings.Repeat("a", 10000),
	}
	for name, bad := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := k.Verify("unsubscribe", bad, now); err != ErrInvalid {
				t.Errorf("got %v, want exactly ErrInvalid", err)
			}
		})
	}
}

func TestExpiry(t *testing.T) {
	k := ring(t, "k1", "k1")
	tok := k.Sign(Claims{Purpose: "confirm", Subject: "s", Expires: now.Add(time.Hour)})
	if _, err := k.Verify("confirm", tok, now); err != nil {
		t.Errorf("before expiry: got %v, want valid", err)
	}
	if _, err := k.Verify("confirm", tok, now.Add(time.Hour)); !errors.Is(err, ErrExpired) {
		t.Errorf("at expiry: got %v, want ErrExpired", err)
	}
}

func TestKeyringRejectsWeakConfig(t *testing.T) {
	tests := map[string]string{
		"short key":      `{"active":"k1","k1":"short"}`,
		"missing active": `{"active":"k2","k1":"` + strings.Repeat("x", 32) + `"}`,
		"bad id":         `{"active":"k 1","k 1":"` + strings.Repeat("x", 32) + `"}`,
		"not json":       `nope`,
	}
	for name, in := range tests {
		if _, err := ParseKeyring([]byte(in)); err == nil {
			t.Errorf("%s: got nil error, want one", name)
		}
	}
}

func TestSubscriberIDIsStableAndOpaque(t *testing.T) {
	h, err := NewSubjectHasher([]byte(strings.Repeat("s", 32)))
	if err != nil {
		t.Fatal(err)
	}
	a, b := h.SubscriberID("ann@example.com"), h.SubscriberID("ann@example.com")
	if a != b {
		t.Errorf("same address: got %q and %q, want equal", a, b)
	}
	if h.SubscriberID("bob@example.com") == a {
		t.Errorf("different addresses got the same id")
	}
	if strings.Contains(a, "ann") || len(a) != 32 {
		t.Errorf("id %q: want 32 opaque characters", a)
	}
}

func TestLoadOrCreateFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "keys.json")
	first, err := LoadOrCreateFile(path)
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	second, err := LoadOrCreateFile(path)
	if err != nil {
		t.Fatalf("reload: %v", err)
	}
	tok := first.Signing.Sign(Claims{Purpose: "p", Subject: "s"})
	if _, err := second.Signing.Verify("p", tok, now); err != nil {
		t.Errorf("token from first load does not verify after reload: %v", err)
	}
	if first.Subject.SubscriberID("a@b.c") != second.Subject.SubscriberID("a@b.c") {
		t.Errorf("subject key changed across reloads")
	}
}

// A base64url character carries six bits; the last character of a part
// carries some unused low bits. Changing only those must still fail, so that
// exactly one spelling of a token verifies.
func TestAlteredLastCharacterFails(t *testing.T) {
	k := ring(t, "k1", "k1")
	tok := k.Sign(Claims{Purpose: "unsubscribe", Subject: "alice", Scope: "m"})
	parts := strings.Split(tok, ".")
	// lowBits returns s with its last character replaced by the next one in
	// the alphabet that decodes to the same bytes under lenient decoding.
	lowBits := func(t *testing.T, s string) string {
		t.Helper()
		const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
		i := strings.IndexByte(alphabet, s[len(s)-1])
		unused := map[int]int{2: 4, 3: 2}[len(s)%4] // unused low bits in the last character
		if unused == 0 {
			t.Fatalf("part %q has no unused bits; pick claims that give one", s)
		}
		return s[:len(s)-1] + string(alphabet[i^1])
	}
	tests := []struct{ name, tok string }{
		{"payload", parts[0] + "." + lowBits(t, parts[1]) + "." + parts[2]},
		{"mac", parts[0] + "." + parts[1] + "." + lowBits(t, parts[2])},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.tok == tok {
				t.Fatal("test token unchanged")
			}
			if _, err := k.Verify("unsubscribe", tt.tok, now); err != ErrInvalid {
				t.Errorf("got %v, want exactly ErrInvalid", err)
			}
		})
	}
}

// Decoders skip CR and LF even in strict mode; a token with one added must
// not verify either.
func TestInsertedLineBreakFails(t *testing.T) {
	k := ring(t, "k1", "k1")
	tok := k.Sign(Claims{Purpose: "unsubscribe", Subject: "alice", Scope: "m"})
	for _, brk := range []string{"\n", "\r", "\r\n"} {
		for _, i := range []int{len(tok) - 1, len(tok) - 10, 4} {
			bad := tok[:i] + brk + tok[i:]
			if _, err := k.Verify("unsubscribe", bad, now); err != ErrInvalid {
				t.Errorf("%q inserted at %d: got %v, want exactly ErrInvalid", brk, i, err)
			}
		}
	}
}

// Every token that differs from a genuine one in one character fails.
func TestEverySingleCharacterChangeFails(t *testing.T) {
	k := ring(t, "k1", "k1")
	tok := k.Sign(Claims{Purpose: "confirm", Subject: "s", Scope: "m", Expires: now.Add(time.Hour)})
	const chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=+/ \n\x00"
	for i := range len(tok) {
		for _, c := range []byte(chars) {
			if tok[i] == c {
				continue
			}
			bad := tok[:i] + string(c) + tok[i+1:]
			if _, err := k.Verify("confirm", bad, now); err != ErrInvalid {
				t.Fatalf("position %d changed to %q: got %v, want exactly ErrInvalid", i, c, err)
			}
		}
	}
}
