package consent

import (
	"errors"
	"strings"
	"testing"
)

func TestCheckName(t *testing.T) {
	const (
		ok      = ""
		tooLong = "too long"
		chars   = "chars"
	)
	tests := []struct {
		name, in, want string
		fail           string // ok, tooLong or chars
	}{
		// Accepted.
		{"empty", "", "", ok},
		{"only spaces", "   ", "", ok},
		{"simple", "Ann", "Ann", ok},
		{"trimmed", "  Ann Smith \t", "Ann Smith", ok},
		{"accented", "Zoë Løvås", "Zoë Løvås", ok},
		{"accented, decomposed", "Zoe\u0308", "Zoe\u0308", ok},
		{"French", "Anne-Sophie Lefèvre", "Anne-Sophie Lefèvre", ok},
		{"Irish apostrophe", "Siobhán O'Neill", "Siobhán O'Neill", ok},
		{"Irish typographic apostrophe", "Seán Ó Briain O’Donnell", "Seán Ó Briain O’Donnell", ok},
		{"Welsh", "Llŷr ap Gwynfor", "Llŷr ap Gwynfor", ok},
		{"Welsh apostrophe", "Dafydd ab Owain D'Arcy", "Dafydd ab Owain D'Arcy", ok},
		{"hyphenated", "Mary-Jane Smith-Jones", "Mary-Jane Smith-Jones", ok},
		{"Unicode hyphen", "Mary‐Jane", "Mary‐Jane", ok},
		{"initials", "J.R.R. Tolkien", "J.R.R. Tolkien", ok},
		{"title", "Dr. Ann Smith Jr.", "Dr. Ann Smith Jr.", ok},
		{"Chinese", "王小明", "王小明", ok},
		{"Japanese", "山田 太郎", "山田 太郎", ok},
		{"Arabic", "محمد عبد الله", "محمد عبد الله", ok},
		{"Arabic with harakat", "مُحَمَّد", "مُحَمَّد", ok},
		{"Devanagari with marks", "अनुष्का शर्मा", "अनुष्का शर्मा", ok},
		{"Tamil with marks", "கார்த்திக்", "கார்த்திக்", ok},
		{"Greek", "Αλέξανδρος", "Αλέξανδρος", ok},
		{"Cyrillic", "Ёлка Пётр", "Ёлка Пётр", ok},
		{"Vietnamese", "Nguyễn Thị Minh Khai", "Nguyễn Thị Minh Khai", ok},
		{"single letter", "A", "A", ok},
		{"exactly 100 characters", strings.Repeat("é", 100), strings.Repeat("é", 100), ok},

		// Too long.
		{"101 characters", strings.Repeat("a", 101), "", tooLong},
		{"101 multibyte characters", strings.Repeat("ü", 101), "", tooLong},

		// Characters not allowed.
		{"URL", "http://evil.example", "", chars},
		{"host name", "evil.example", "", chars},
		{"www host name", "www.evil", "", chars},
		{"host name with marks", "evil.e\u0301xample", "", chars},
		{"dotted words", "Ann.Smith", "", chars},
		{"email address", "x@y", "", chars},
		{"at sign", "Ann @ home", "", chars},
		{"colon", "Re: Ann", "", chars},
		{"slash", "Ann/Bob", "", chars},
		{"digits", "Ann 2", "", chars},
		{"non-ASCII digits", "Ann ٣", "", chars},
		{"RLO bidi override", "Ann\u202Eevil", "", chars},
		{"LRE", "Ann\u202Aevil", "", chars},
		{"RLI isolate", "Ann\u2067evil", "", chars},
		{"PDI isolate", "Ann\u2069", "", chars},
		{"RLM", "Ann\u200F", "", chars},
		{"LRM", "\u200EAnn", "", chars},
		{"Arabic letter mark", "Ann\u061C", "", chars},
		{"line separator", "a\u2028b", "", chars},
		{"paragraph separator", "a\u2029b", "", chars},
		{"zero-width space", "An\u200Bn", "", chars},
		{"zero-width joiner", "An\u200Dn", "", chars},
		{"word joiner", "An\u2060n", "", chars},
		{"BOM", "\uFEFFAnn", "", chars},
		{"soft hyphen (Cf)", "An\u00ADn", "", chars},
		{"newline", "Ann\nBcc: x", "", chars},
		{"tab inside", "Ann\tSmith", "", chars},
		{"NUL", "Ann\x00", "", chars},
		{"C1 control", "Ann\u0085Smith", "", chars},
		{"no-break space", "Ann\u00A0Smith", "", chars},
		{"double space", "Ann  Smith", "", chars},
		{"HTML", "<b>Ann</b>", "", chars},
		{"formula", "=HYPERLINK(\"x\")", "", chars},
		{"leading hyphen", "-Ann", "", chars},
		{"leading combining mark", "\u0338Ann", "", chars},
		{"no letters", ".'-", "", chars},
		{"emoji", "Ann 😀", "", chars},
		{"invalid UTF-8", "Ann\xff", "", chars},
		{"middle dot", "Ann·Smith", "", chars},
	}
	for _, tt := range tests {
		got, err := CheckName(tt.in)
		switch tt.fail {
		case ok:
			if err != nil || got != tt.want {
				t.Errorf("%s: CheckName(%.40q) = %q, %v; want %q, nil", tt.name, tt.in, got, err, tt.want)
			}
		case tooLong, chars:
			want := ErrNameTooLong
			if tt.fail == chars {
				want = ErrNameChars
			}
			var ne *NameError
			if got != "" || !errors.As(err, &ne) || ne != want || !errors.Is(err, ErrBadName) {
				t.Errorf("%s: CheckName(%.40q) = %q, %v; want \"\", %q", tt.name, tt.in, got, err, want.Message)
			}
		}
	}
}

func TestNameErrorMessages(t *testing.T) {
	if got, want := ErrNameTooLong.Error(), "Your name can be at most 100 characters."; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if ErrNameChars.Message == "" || ErrNameChars.Message == ErrNameTooLong.Message {
		t.Errorf("got %q, want a distinct message", ErrNameChars.Message)
	}
	if errors.Is(errors.New("other"), ErrBadName) {
		t.Error("unrelated error matches ErrBadName")
	}
}
