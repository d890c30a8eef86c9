// Package mailcheck is the one place that decides whether a consent.Message
// is safe to put on the wire. Both Mailer adapters (sesmail for Amazon SES,
// mailbox for the local server) call Check before they send or store
// anything, so the local inbox refuses exactly what production refuses.
//
// The checks are defence in depth: consent builds messages from validated
// configuration, but a line break smuggled into a subject, address or header
// would let an attacker add headers or recipients (header injection), so it
// is refused here again.
package mailcheck

import (
	"fmt"
	"net/mail"
	"strings"

	"github.com/unbundled/unbundled/shared/consent"
)

// ErrInvalidMessage is wrapped by every error Check returns. Match it with
// errors.Is. The wrapping text names the offending field but never repeats
// an address or a header value, so it is safe to log.
var ErrInvalidMessage = fmt.Errorf("invalid email message: %w", consent.ErrRejected)

// Limits Amazon SES puts on custom headers (sesv2 types.MessageHeader).
const (
	MaxHeaderNameLength  = 126
	MaxHeaderValueLength = 995
	MaxHeaderLength      = 996 // name and value together
)

// reserved are the header fields an adapter sets itself from the Message's
// own fields (or that describe the MIME structure). An extra Header with one
// of these names could add a recipient (Bcc) or spoof the sender, so it is
// refused. Keys are lower case; header names compare case-insensitively.
var reserved = map[string]bool{
	"bcc": true, "cc": true, "content-transfer-encoding": true, "content-type": true,
	"date": true, "from": true, "message-id": true, "mime-version": true,
	"reply-to": true, "return-path": true, "sender": true, "subject": true, "to": true,
}

// Check reports whether msg may be sent. It returns an error wrapping
// ErrInvalidMessage when:
//
//   - FromEmail or To is missing, or FromEmail, To or ReplyTo (when set) is
//     not a single plain address (no display name, no list, at most 254
//     bytes);
//   - FromName, Subject or any address contains CR, LF or NUL;
//   - Subject is empty, or both Text and HTML are empty;
//   - a header name is empty, longer than 126 bytes or has a character
//     outside RFC 5322 field-name characters (printable ASCII except ':');
//   - a header value contains CR, LF, NUL or any character other than
//     printable ASCII, space and tab, or is longer than SES allows;
//   - a header name is one the adapters set themselves (From, To, Cc, Bcc,
//     Subject, Reply-To, Date, Message-ID, ...) or appears twice
//     (case-insensitively).
func Check(msg consent.Message) error {
	if msg.FromEmail == "" {
		return invalid("from address is missing")
	}
	if msg.To == "" {
		return invalid("to address is missing")
	}
	if err := checkAddress("from", msg.FromEmail); err != nil {
		return err
	}
	if err := checkAddress("to", msg.To); err != nil {
		return err
	}
	if msg.ReplyTo != "" {
		if err := checkAddress("reply-to", msg.ReplyTo); err != nil {
			return err
		}
	}
	if hasLineBreakOrNUL(msg.FromName) {
		return invalid("from name contains CR, LF or NUL")
	}
	if msg.Subject == "" {
		return invalid("subject is missing")
	}
	if hasLineBreakOrNUL(msg.Subject) {
		return invalid("subject contains CR, LF or NUL")
	}
	if msg.Text == "" && msg.HTML == "" {
		return invalid("both text and HTML bodies are empty")
	}
	seen := make(map[string]bool, len(msg.Headers))
	for i, h := range msg.Headers {
		if err := checkHeader(h); err != nil {
			return fmt.Errorf("header %d: %w", i, err)
		}
		key := strings.ToLower(h.Name)
		if reserved[key] {
			return invalid(fmt.Sprintf("header %q is set by the mailer and may not be overridden", h.Name))
		}
		if seen[key] {
			return invalid(fmt.Sprintf("header %q appears more than once", h.Name))
		}
		seen[key] = true
	}
	return nil
}

// From returns the From mailbox as it goes on the wire: the bare address
// when msg.FromName is empty, otherwise an RFC 5322 name-addr whose display
// name is quoted as needed and RFC 2047-encoded when it is not ASCII
// (net/mail.Address.String). Call Check first.
func From(msg consent.Message) string {
	if msg.FromName == "" {
		return msg.FromEmail
	}
	return (&mail.Address{Name: msg.FromName, Address: msg.FromEmail}).String()
}

func checkAddress(field, addr string) error {
	if len(addr) > consent.MaxAddressLength {
		return invalid(field + " address is too long")
	}
	if hasLineBreakOrNUL(addr) {
		return invalid(field + " address contains CR, LF or NUL")
	}
	// The length is capped above before net/mail parses it.
	a, err := mail.ParseAddress(addr)
	if err != nil || a.Name != "" || a.Address != addr {
		return invalid(field + " address is not a single plain address")
	}
	return nil
}

func checkHeader(h consent.Header) error {
	switch {
	case h.Name == "":
		return invalid("header name is empty")
	case len(h.Name) > MaxHeaderNameLength:
		return invalid("header name is too long")
	case strings.ContainsFunc(h.Name, func(r rune) bool { return r < 33 || r > 126 || r == ':' }):
		// The name is not repeated: it failed validation and may hold anything.
		return invalid("header name has characters outside RFC 5322 field-name")
	case hasLineBreakOrNUL(h.Value):
		return invalid(fmt.Sprintf("header %q value contains CR, LF or NUL", h.Name))
	case strings.ContainsFunc(h.Value, func(r rune) bool { return (r < 32 && r != '\t') || r > 126 }):
		return invalid(fmt.Sprintf("header %q value has characters other than printable ASCII", h.Name))
	case len(h.Value) > MaxHeaderValueLength || len(h.Name)+len(h.Value) > MaxHeaderLength:
		return invalid(fmt.Sprintf("header %q value is too long", h.Name))
	}
	return nil
}

func hasLineBreakOrNUL(s string) bool {
	return strings.ContainsAny(s, "\r\n\x00")
}

func invalid(reason string) error {
	return fmt.Errorf("%w: %s", ErrInvalidMessage, reason)
}
