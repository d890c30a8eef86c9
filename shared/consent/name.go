package consent

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// ErrBadName matches (with errors.Is) every error CheckName returns.
var ErrBadName = errors.New("name not accepted")

// NameError is the error CheckName returns. Message is written for the
// visitor and is safe to show next to the name field as it is.
type NameError struct {
	Message string
}

func (e *NameError) Error() string { return e.Message }

// Is makes errors.Is(err, ErrBadName) true for any *NameError.
func (e *NameError) Is(target error) bool { return target == ErrBadName }

// The two ways a name is refused. Callers can compare with errors.Is or
// pull out the message with errors.As(err, &nameErr).
// MaxNameLength caps the optional name, in characters.
const MaxNameLength = 100

var (
	ErrNameTooLong = &NameError{Message: fmt.Sprintf("Your name can be at most %d characters.", MaxNameLength)}
	ErrNameChars   = &NameError{Message: "Your name can only contain letters, single spaces, apostrophes, hyphens and full stops."}
)

// CheckName validates the optional name a visitor gives and returns it with
// surrounding whitespace trimmed. The name is stored in the consent ledger
// and may be echoed in emails and exports, so it must stay inert text: it is
// never rewritten (no collapsing or re-casing), only accepted or refused.
//
// Rules:
//   - empty (after trimming) is fine and returns "", nil;
//   - valid UTF-8, at most MaxNameLength characters (runes), else
//     ErrNameTooLong (invalid UTF-8 gives ErrNameChars);
//   - only Unicode letters, combining marks, the plain space U+0020 (one at a
//     time, between words), apostrophes (' and ’), hyphens (- and ‐) and
//     full stops. Everything else is refused with ErrNameChars: digits,
//     '@', ':', '/', other punctuation and symbols, tabs and newlines, line
//     and paragraph separators, and every control or format (Cf) character
//     – which covers bidi controls (U+202A–E, U+2066–9, U+200E/F, U+061C)
//     and zero-width characters (U+200B–D, U+2060, U+FEFF);
//   - at least one letter; it must not start with a combining mark (which
//     would attach to the text before it) or a hyphen (a spreadsheet formula
//     prefix);
//   - a full stop may not be followed directly by two or more letters, so
//     host names such as "evil.example" or "www.evil" are refused while
//     initials ("J.R.R. Tolkien", "Dr. Ann") are fine.
//
// Every error is a *NameError (ErrNameTooLong or ErrNameChars) and matches
// ErrBadName.
func CheckName(raw string) (string, error) {
	switch name, fault := inertText(raw, MaxNameLength, nil); fault {
	case textTooLong:
		return "", ErrNameTooLong
	case textChars:
		return "", ErrNameChars
	default:
		return name, nil
	}
}

// textFault is why inertText refused its input.
type textFault int

const (
	textOK textFault = iota
	textTooLong
	textChars
)

// inertText applies the rules CheckName documents to raw, with a limit of
// max characters, and also accepts the runes extra allows (nil allows
// none): it is the one check behind names, organisation names and roles
// (see subscriber.go). It returns raw trimmed, or the fault.
func inertText(raw string, max int, extra func(rune) bool) (string, textFault) {
	if !utf8.ValidString(raw) {
		return "", textChars
	}
	text := strings.TrimSpace(raw)
	if text == "" {
		return "", textOK
	}
	if utf8.RuneCountInString(text) > max {
		return "", textTooLong
	}
	runes := []rune(text)
	if unicode.Is(unicode.M, runes[0]) || isNameHyphen(runes[0]) {
		return "", textChars
	}
	hasLetter := false
	for i, r := range runes {
		switch {
		case unicode.IsLetter(r):
			hasLetter = true
		case unicode.Is(unicode.M, r), isNameHyphen(r), r == '\'', r == '’':
		case r == ' ':
			if runes[i-1] == ' ' { // runes[0] is never a space after trimming
				return "", textChars
			}
		case r == '.':
			if lettersAfter(runes[i+1:]) >= 2 {
				return "", textChars
			}
		case extra != nil && extra(r):
		default:
			return "", textChars
		}
	}
	if !hasLetter {
		return "", textChars
	}
	return text, textOK
}

func isNameHyphen(r rune) bool { return r == '-' || r == '‐' }

// lettersAfter counts the letters in the run of letters and combining marks
// at the start of rs (marks are skipped so "x.e\u0301vil" is caught too).
func lettersAfter(rs []rune) int {
	n := 0
	for _, r := range rs {
		switch {
		case unicode.IsLetter(r):
			n++
		case unicode.Is(unicode.M, r):
		default:
			return n
		}
	}
	return n
}
