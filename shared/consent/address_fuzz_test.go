package consent

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// FuzzNormaliseAddress checks the properties subscriber ids rely on: no
// panics, and an accepted address is short, ASCII, lower-case, has exactly
// one '@' and is its own canonical form.
func FuzzNormaliseAddress(f *testing.F) {
	for _, s := range []string{
		"ann@example.com",
		"  Ann.Smith+news@Example.CO.UK ",
		"ann@bücher.example",
		"ann@xn--bcher-kva.example",
		"ann@faß.de",
		"ann@例え.テスト",
		"ann@ｅｘａｍｐｌｅ.com",
		"!#$%&'*+-/=?^_`{|}~@example.org",
		`"ann smith"@example.com`,
		"Ann <ann@example.com>",
		"ann@[127.0.0.1]",
		"ann@127.0.0.1",
		"ann@example.com\r\nBcc: x@y.com",
		"ann..smith@example.com",
		"ann@-example-.com",
		"jöran@example.com",
		"ann@xn--a.example",
		strings.Repeat("l", 64) + "@" + strings.Repeat("d", 63) + "." + strings.Repeat("d", 63) + "." + strings.Repeat("e", 61),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		got, err := NormaliseAddress(in)
		if err != nil {
			if got != "" {
				t.Fatalf("NormaliseAddress(%q) = %q with error %v", in, got, err)
			}
			return
		}
		if len(got) > MaxAddressLength {
			t.Fatalf("NormaliseAddress(%q) = %q: %d bytes, want ≤ %d", in, got, len(got), MaxAddressLength)
		}
		for i := 0; i < len(got); i++ {
			if got[i] < 0x21 || got[i] > 0x7e {
				t.Fatalf("NormaliseAddress(%q) = %q: byte %#x is not printable ASCII", in, got, got[i])
			}
		}
		if got != strings.ToLower(got) {
			t.Fatalf("NormaliseAddress(%q) = %q: not lower-case", in, got)
		}
		if n := strings.Count(got, "@"); n != 1 {
			t.Fatalf("NormaliseAddress(%q) = %q: %d '@', want 1", in, got, n)
		}
		again, err := NormaliseAddress(got)
		if err != nil || again != got {
			t.Fatalf("NormaliseAddress(%q) = %q, but NormaliseAddress(%q) = %q, %v", in, got, got, again, err)
		}
	})
}

// FuzzCheckName checks that an accepted name is inert: bounded, valid UTF-8,
// and free of control, format (bidi, zero-width), separator characters and
// of '@', ':' and '/'.
func FuzzCheckName(f *testing.F) {
	for _, s := range []string{
		"Ann", "  Siobhán O'Neill ", "Mary‐Jane Smith-Jones", "J.R.R. Tolkien",
		"王小明", "محمد عبد الله", "अनुष्का शर्मा", "http://evil.example", "Ann\u202Eevil",
		"a\u2028b", "x@y", strings.Repeat("a", 101), "evil.e\u0301xample", "Ann\xff",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		got, err := CheckName(in)
		if err != nil {
			if got != "" {
				t.Fatalf("CheckName(%q) = %q with error %v", in, got, err)
			}
			return
		}
		if !utf8.ValidString(got) {
			t.Fatalf("CheckName(%q) = %q: invalid UTF-8", in, got)
		}
		if n := utf8.RuneCountInString(got); n > MaxNameLength {
			t.Fatalf("CheckName(%q) = %q: %d characters, want ≤ %d", in, got, n, MaxNameLength)
		}
		if got != strings.TrimSpace(got) {
			t.Fatalf("CheckName(%q) = %q: not trimmed", in, got)
		}
		for _, r := range got {
			if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || unicode.In(r, unicode.Zl, unicode.Zp) ||
				unicode.Is(unicode.Bidi_Control, r) || r == '@' || r == ':' || r == '/' || unicode.IsDigit(r) {
				t.Fatalf("CheckName(%q) = %q: contains %U", in, got, r)
			}
		}
	})
}
