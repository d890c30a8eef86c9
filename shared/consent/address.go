package consent

import (
	"errors"
	"net/mail"
	"strings"
)

// Address limits (RFC 5321 as applied by mail providers).
const (
	MaxAddressLength = 254
	MaxLocalLength   = 64
)

// ErrBadAddress is returned for anything that is not a plain, deliverable-looking
// email address.
var ErrBadAddress = errors.New("not a valid email address")

// NormaliseAddress validates a visitor-supplied address and returns its
// normalised form: trimmed and lower-cased, so one person is one subscriber
// however they type it. The length is capped before parsing (net/mail has had
// CPU-exhaustion bugs on long inputs); display names ("Ann <a@b>"), comments,
// control characters and addresses without a dotted domain are refused.
func NormaliseAddress(raw string) (string, error) {
	s := strings.TrimSpace(raw)
	if s == "" || len(s) > MaxAddressLength {
		return "", ErrBadAddress
	}
	if strings.ContainsFunc(s, func(r rune) bool {
		return r < 0x21 || r == 0x7f || r == '<' || r == '>' || r == '(' || r == ')' || r == ',' || r == ';'
	}) {
		return "", ErrBadAddress
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Name != "" || a.Address != s {
		return "", ErrBadAddress
	}
	local, domain, ok := strings.Cut(a.Address, "@")
	if !ok || local == "" || len(local) > MaxLocalLength || strings.HasPrefix(local, `"`) {
		return "", ErrBadAddress
	}
	if !strings.Contains(domain, ".") || strings.HasPrefix(domain, ".") || strings.HasSuffix(domain, ".") || strings.HasPrefix(domain, "[") {
		return "", ErrBadAddress
	}
	return strings.ToLower(a.Address), nil
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
