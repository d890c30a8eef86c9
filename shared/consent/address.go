package consent

import (
	"errors"
	"strings"
	"unicode/utf8"

	"golang.org/x/net/idna"
)

// Address limits (RFC 5321 as applied by mail providers).
const (
	MaxAddressLength = 254
	MaxLocalLength   = 64
	maxDomainLength  = 253
	maxLabelLength   = 63
)

// ErrBadAddress is returned for anything that is not a plain, deliverable-looking
// email address.
var ErrBadAddress = errors.New("not a valid email address")

// NormaliseAddress validates a visitor-supplied address and returns its one
// canonical form. Every entry point (form, JSON API, /withdraw, bounce and
// complaint feedback, imports) must go through it: subscriber ids are derived
// from the result, so two spellings of the same mailbox must give the same
// string and anything we could not safely send to must be refused.
//
// Rules (deliberately stricter than RFC 5322):
//   - surrounding whitespace is trimmed; empty input is refused;
//   - the trimmed input may be at most MaxAddressLength (254) bytes, checked
//     before any parsing, and so may the canonical result;
//   - exactly one '@'; no quoted strings, display names ("Ann <a@b>"),
//     comments, IP literals ("[1.2.3.4]") or whitespace/control characters;
//   - the local part is a dot-atom of printable ASCII (RFC 5322 atext:
//     letters, digits and !#$%&'*+-/=?^_`{|}~, plus '.'), 1–MaxLocalLength
//     bytes, with no leading, trailing or doubled dot. Non-ASCII local parts
//     are refused because SES cannot send to them;
//   - the domain is converted to ASCII with IDNA 2008 (UTS #46 lookup
//     profile, idna.Lookup.ToASCII), so "bücher.example" and
//     "xn--bcher-kva.example" are the same domain. The ASCII form must then
//     have at least two labels, each 1–63 letters, digits or hyphens, not
//     starting or ending with a hyphen; a top-level label that is not all
//     digits (so "1.2.3.4" is refused); no trailing dot; at most 253 bytes.
//     Invalid UTF-8 is refused, and the ASCII form must convert to itself
//     again. Note that the UTS #46 mapping folds compatibility forms
//     (full-width letters, "。") and drops default-ignorable characters such
//     as U+00AD and U+200B in the domain, as a DNS lookup would.
//
// The canonical form is the lower-cased local part, "@", and the lower-cased
// ASCII (punycode) domain. Lower-casing the local part is a deliberate
// product choice: one person is one subscriber however they type it.
//
// Every failure returns ErrBadAddress.
func NormaliseAddress(raw string) (string, error) {
	s := strings.TrimSpace(raw)
	if s == "" || len(s) > MaxAddressLength {
		return "", ErrBadAddress
	}
	if strings.Count(s, "@") != 1 {
		return "", ErrBadAddress
	}
	local, domain, _ := strings.Cut(s, "@")
	if !validLocal(local) {
		return "", ErrBadAddress
	}
	ascii, ok := asciiDomain(domain)
	if !ok {
		return "", ErrBadAddress
	}
	out := strings.ToLower(local) + "@" + ascii
	if len(out) > MaxAddressLength {
		return "", ErrBadAddress
	}
	return out, nil
}

// validLocal reports whether local is an unquoted RFC 5322 dot-atom of
// ASCII atext within MaxLocalLength bytes.
func validLocal(local string) bool {
	if local == "" || len(local) > MaxLocalLength {
		return false
	}
	if local[0] == '.' || local[len(local)-1] == '.' || strings.Contains(local, "..") {
		return false
	}
	for i := 0; i < len(local); i++ {
		if c := local[i]; c != '.' && !isAtext(c) {
			return false
		}
	}
	return true
}

// isAtext reports whether c is RFC 5322 atext.
func isAtext(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-/=?^_`{|}~", c) >= 0
}

// asciiDomain converts domain to its lower-case ASCII form with IDNA 2008
// and checks it is a plain multi-label LDH host name.
func asciiDomain(domain string) (string, bool) {
	if domain == "" || !utf8.ValidString(domain) {
		return "", false // idna would turn invalid bytes into U+FFFD
	}
	a, err := idna.Lookup.ToASCII(domain)
	if err != nil {
		return "", false
	}
	a = strings.ToLower(a)
	// The result must be a fixed point, or the canonical form would not
	// normalise to itself (e.g. labels that encode but do not validate).
	if b, err := idna.Lookup.ToASCII(a); err != nil || b != a {
		return "", false
	}
	if len(a) > maxDomainLength {
		return "", false
	}
	labels := strings.Split(a, ".")
	if len(labels) < 2 {
		return "", false
	}
	for _, l := range labels {
		if !validLabel(l) {
			return "", false // includes the empty label of a trailing or doubled dot
		}
	}
	if strings.Trim(labels[len(labels)-1], "0123456789") == "" {
		return "", false // all-numeric top-level label: a dotted quad or similar
	}
	return a, true
}

// validLabel reports whether l is an LDH label of 1–63 bytes that neither
// starts nor ends with a hyphen.
func validLabel(l string) bool {
	if l == "" || len(l) > maxLabelLength || l[0] == '-' || l[len(l)-1] == '-' {
		return false
	}
	for i := 0; i < len(l); i++ {
		c := l[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// MaskAddress shows enough of an address for its owner to recognise it
// without revealing it to anyone else: "jane@example.com" → "j•••@e•••.com".
func MaskAddress(addr string) string {
	local, domain, ok := strings.Cut(addr, "@")
	if !ok || local == "" || domain == "" {
		return "•••"
	}
	masked := string([]rune(local)[:1]) + "•••@" + string([]rune(domain)[:1]) + "•••"
	if i := strings.LastIndex(domain, "."); i > 0 {
		masked += domain[i:]
	}
	return masked
}
