package token

import (
	"strings"
	"testing"
	"time"
)

// fuzzRing is a fixed keyring, so a token the fuzzer finds can be replayed.
var fuzzRing = func() *Keyring {
	k, err := NewKeyring("k2", map[string][]byte{
		"k1": []byte(strings.Repeat("1", 32)),
		"k2": []byte(strings.Repeat("2", 32)),
	})
	if err != nil {
		panic(err)
	}
	return k
}()

// FuzzVerify checks two things. An arbitrary string verifies only if it is
// exactly what Sign returns for the claims it carries (for any key in the
// ring). A genuine token with one character changed at pos to c never
// verifies. Seeds are in testdata/fuzz/FuzzVerify.
func FuzzVerify(f *testing.F) {
	f.Fuzz(func(t *testing.T, s string, pos uint, c byte) {
		for _, purpose := range []string{"unsubscribe", "confirm", "form-stamp"} {
			claims, err := fuzzRing.Verify(purpose, s, now)
			if err != nil {
				if err != ErrInvalid && err != ErrExpired {
					t.Fatalf("Verify(%q): got %v, want ErrInvalid or ErrExpired", s, err)
				}
				if err == ErrInvalid {
					continue
				}
			}
			if !signedBy(claims, s) {
				t.Fatalf("Verify(%q) accepted a token Sign does not produce for %+v", s, claims)
			}
		}

		genuine := fuzzRing.Sign(Claims{Purpose: "confirm", Subject: s, Scope: "m", Expires: now.Add(time.Hour)})
		if len(genuine) > maxTokenLength {
			return
		}
		i := int(pos % uint(len(genuine)))
		if genuine[i] == c {
			return
		}
		mutated := genuine[:i] + string([]byte{c}) + genuine[i+1:]
		if _, err := fuzzRing.Verify("confirm", mutated, now); err != ErrInvalid {
			t.Fatalf("genuine token with position %d changed to %q: got %v, want ErrInvalid", i, c, err)
		}
	})
}

// signedBy reports whether tok is what Sign returns for claims with one of
// the ring's keys active.
func signedBy(claims Claims, tok string) bool {
	kid, _, _ := strings.Cut(tok, ".")
	if _, ok := fuzzRing.keys[kid]; !ok {
		return false
	}
	k := &Keyring{active: kid, keys: fuzzRing.keys}
	return k.Sign(claims) == tok
}
