package consent

import (
	"strings"
	"testing"
)

func TestNormaliseAddress(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"ann@example.com", "ann@example.com", true},
		{"  Ann.Smith+news@Example.CO.UK ", "ann.smith+news@example.co.uk", true},
		{"", "", false},
		{"ann", "", false},
		{"ann@localhost", "", false},
		{"Ann <ann@example.com>", "", false},
		{"ann@example.com\r\nBcc: x@y.com", "", false},
		{"ann@exa\x00mple.com", "", false},
		{"ann@example.com, bob@example.com", "", false},
		{`"ann smith"@example.com`, "", false},
		{"ann@[127.0.0.1]", "", false},
		{strings.Repeat("a", 65) + "@example.com", "", false},
		{"a@" + strings.Repeat("b", 250) + ".com", "", false},
		{strings.Repeat("(", 100000), "", false},
	}
	for _, tt := range tests {
		got, err := NormaliseAddress(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("NormaliseAddress(%.40q) = %q, %v; want %q, ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

func TestMaskAddress(t *testing.T) {
	if got, want := MaskAddress("jane@example.com"), "j•••@e•••.com"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}
