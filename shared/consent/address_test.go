package consent

import (
	"errors"
	"strings"
	"testing"
)

// addressCase is one NormaliseAddress case: want is the exact canonical
// form, or "" when the address must be refused with ErrBadAddress.
type addressCase struct {
	name, in, want string
}

// Cases are written for this package in the style of public address
// validation suites (Dominic Sayers' isemail tests, Wikipedia's
// valid/invalid examples) and RFC 5321/5322/5890 examples, narrowed to the
// strict subset NormaliseAddress accepts.
func addressCases() []addressCase {
	l64 := strings.Repeat("l", 64)
	d63 := strings.Repeat("d", 63)
	// 64 + 1 + (63+1+63+1+61) = 254 bytes; one more byte in the last label is 255.
	addr254 := l64 + "@" + d63 + "." + d63 + "." + strings.Repeat("e", 61)
	addr255 := l64 + "@" + d63 + "." + d63 + "." + strings.Repeat("e", 62)
	return []addressCase{
		// Accepted, and their canonical forms.
		{"plain", "ann@example.com", "ann@example.com"},
		{"existing: trim and fold", "  Ann.Smith+news@Example.CO.UK ", "ann.smith+news@example.co.uk"},
		{"upper-case folding", "ANN@EXAMPLE.COM", "ann@example.com"},
		{"mixed case local", "AnN.SmItH@example.com", "ann.smith@example.com"},
		{"surrounding spaces", "   ann@example.com   ", "ann@example.com"},
		{"surrounding tab and newline", "\tann@example.com\r\n", "ann@example.com"},
		{"dotted local", "very.common@example.com", "very.common@example.com"},
		{"plus tag", "disposable.style.email.with+symbol@example.com", "disposable.style.email.with+symbol@example.com"},
		{"hyphen in local", "other.email-with-hyphen@example.com", "other.email-with-hyphen@example.com"},
		{"hyphen in domain label", "ann@strange-example.com", "ann@strange-example.com"},
		{"single-character local", "x@example.com", "x@example.com"},
		{"numeric local", "1234567890@example.com", "1234567890@example.com"},
		{"slash in local (RFC 5322 atext)", "test/test@test.example", "test/test@test.example"},
		{"bang path in local", "mailhost!username@example.org", "mailhost!username@example.org"},
		{"percent routing in local", "user%example.com@example.org", "user%example.com@example.org"},
		{"local ending in hyphen", "user-@example.org", "user-@example.org"},
		{"every atext character", "!#$%&'*+-/=?^_`{|}~@example.org", "!#$%&'*+-/=?^_`{|}~@example.org"},
		{"many labels", "ann@mail.a.b.c.example", "ann@mail.a.b.c.example"},
		{"numeric non-top label", "ann@123.example", "ann@123.example"},
		{"digit in top-level label", "ann@example.c0m", "ann@example.c0m"},
		{"64-byte local", l64 + "@example.com", l64 + "@example.com"},
		{"63-character label", "ann@" + d63 + ".example", "ann@" + d63 + ".example"},
		{"254-byte address", addr254, addr254},
		{"unicode domain", "ann@bücher.example", "ann@xn--bcher-kva.example"},
		{"punycode domain (same as unicode)", "ann@xn--bcher-kva.example", "ann@xn--bcher-kva.example"},
		{"upper-case unicode domain", "Ann@BÜCHER.Example", "ann@xn--bcher-kva.example"},
		{"upper-case punycode domain", "ANN@XN--BCHER-KVA.EXAMPLE", "ann@xn--bcher-kva.example"},
		{"IDNA 2008 keeps sharp s", "ann@faß.de", "ann@xn--fa-hia.de"},
		{"japanese domain (RFC 6531 style)", "ann@例え.テスト", "ann@xn--r8jz45g.xn--zckzah"},
		{"fullwidth domain is mapped", "ann@ｅｘａｍｐｌｅ.com", "ann@example.com"},
		{"ideographic full stop is a dot", "ann@example。com", "ann@example.com"},
		{"IDNA drops soft hyphen in domain", "ann@exa\u00admple.com", "ann@example.com"},
		{"cyrillic look-alike stays distinct", "ann@\u0430pple.com", "ann@xn--pple-43d.com"},

		// Refused.
		{"empty", "", ""},
		{"only spaces", "   ", ""},
		{"no at sign", "ann", ""},
		{"at sign alone", "@", ""},
		{"empty local", "@example.com", ""},
		{"empty domain", "ann@", ""},
		{"two at signs", "a@b@example.com", ""},
		{"doubled at sign", "ann@@example.com", ""},
		{"single-label domain", "ann@localhost", ""},
		{"single-label domain 2", "ann@example", ""},
		{"leading hyphen label", "ann@-example.com", ""},
		{"trailing hyphen label", "ann@example-.com", ""},
		{"trailing hyphen top-level label", "ann@example.com-", ""},
		{"reserved '--' label (IDNA)", "ann@ab--cd.example", ""},
		{"64-character label", "ann@" + d63 + "d.example", ""},
		{"slash in domain", "ann@exa/mple.com", ""},
		{"brace in domain", "ann@exa{mple}.com", ""},
		{"question mark in domain", "ann@example.com?subject=hi", ""},
		{"underscore in domain", "ann@exa_mple.com", ""},
		{"space in domain", "ann@exa mple.com", ""},
		{"dotted quad domain", "ann@127.0.0.1", ""},
		{"all-numeric top-level label", "ann@example.123", ""},
		{"IPv4 literal", "ann@[127.0.0.1]", ""},
		{"IPv6 literal", "ann@[IPv6:2001:db8::1]", ""},
		{"trailing dot in domain", "ann@example.com.", ""},
		{"leading dot in domain", "ann@.example.com", ""},
		{"doubled dot in domain", "ann@example..com", ""},
		{"invalid punycode", "ann@xn--a.example", ""},
		{"invalid UTF-8 in domain (fuzz)", "0@\xec.A", ""},
		{"invalid UTF-8 in local", "an\xffn@example.com", ""},
		{"bidi override in domain", "ann@exa\u202emple.com", ""},
		{"non-ASCII local", "jöran@example.com", ""},
		{"non-ASCII local and domain", "用户@例子.广告", ""},
		{"quoted local", `"ann"@example.com`, ""},
		{"quoted local with space", `"ann smith"@example.com`, ""},
		{"quoted local with specials", `"very.(),:;<>[]\".VERY.\"very@\\ \"very\".unusual"@strange.example.com`, ""},
		{"display name", "Ann <ann@example.com>", ""},
		{"angle brackets only", "<ann@example.com>", ""},
		{"comment in local", "ann(comment)@example.com", ""},
		{"comment in domain", "ann@(comment)example.com", ""},
		{"doubled dot in local", "ann..smith@example.com", ""},
		{"leading dot in local", ".ann@example.com", ""},
		{"trailing dot in local", "ann.@example.com", ""},
		{"65-byte local", l64 + "l@example.com", ""},
		{"255-byte address", addr255, ""},
		{"specials in local (Wikipedia)", `a"b(c)d,e:f;g<h>i[j\k]l@example.com`, ""},
		{"quotes in local (Wikipedia)", `just"not"right@example.com`, ""},
		{"space in local", "ann smith@example.com", ""},
		{"CRLF header injection", "ann@example.com\r\nBcc: x@y.com", ""},
		{"LF inside local", "an\nn@example.com", ""},
		{"CR inside domain", "ann@exam\rple.com", ""},
		{"NUL inside domain", "ann@exa\x00mple.com", ""},
		{"trailing NUL", "ann@example.com\x00", ""},
		{"tab inside", "ann@exa\tmple.com", ""},
		{"DEL inside", "ann\x7f@example.com", ""},
		{"address list", "ann@example.com, bob@example.com", ""},
		{"underscores domain (Wikipedia)", "i.like.underscores@but_they_are_not_allowed_in_this_part", ""},
		{"existing: 256-byte address, 250-byte label", "a@" + strings.Repeat("b", 250) + ".com", ""},
		{"huge input", strings.Repeat("(", 100000), ""},
		{"huge unicode domain", "ann@" + strings.Repeat("ü", 200) + ".example", ""},
	}
}

func TestNormaliseAddress(t *testing.T) {
	for _, tt := range addressCases() {
		got, err := NormaliseAddress(tt.in)
		switch {
		case tt.want == "" && err == nil:
			t.Errorf("%s: NormaliseAddress(%.60q) = %q, want error", tt.name, tt.in, got)
		case tt.want == "" && !errors.Is(err, ErrBadAddress):
			t.Errorf("%s: NormaliseAddress(%.60q) error = %v, want ErrBadAddress", tt.name, tt.in, err)
		case tt.want == "" && got != "":
			t.Errorf("%s: NormaliseAddress(%.60q) = %q with error, want \"\"", tt.name, tt.in, got)
		case tt.want != "" && err != nil:
			t.Errorf("%s: NormaliseAddress(%.60q) error = %v, want %q", tt.name, tt.in, err, tt.want)
		case got != tt.want:
			t.Errorf("%s: NormaliseAddress(%.60q) = %q, want %q", tt.name, tt.in, got, tt.want)
		}
	}
}

func TestNormaliseAddressCaseCount(t *testing.T) {
	if n := len(addressCases()); n < 60 {
		t.Errorf("got %d address cases, want at least 60", n)
	}
}

// The canonical form of every accepted case is a fixed point.
func TestNormaliseAddressIdempotent(t *testing.T) {
	for _, tt := range addressCases() {
		if tt.want == "" {
			continue
		}
		if got, err := NormaliseAddress(tt.want); err != nil || got != tt.want {
			t.Errorf("%s: NormaliseAddress(%q) = %q, %v; want it unchanged", tt.name, tt.want, got, err)
		}
	}
}

func TestMaskAddress(t *testing.T) {
	if got, want := MaskAddress("jane@example.com"), "j•••@e•••.com"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}
