package mailcheck_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/unbundled/unbundled/shared/consent"
	"github.com/unbundled/unbundled/shared/mailcheck"
)

func validMessage() consent.Message {
	return consent.Message{
		FromName:  "Acme Books",
		FromEmail: "hello@acme.example",
		To:        "reader@example.com",
		ReplyTo:   "support@acme.example",
		Subject:   "Your download: The Guide",
		Text:      "Here it is.",
		HTML:      "<p>Here it is.</p>",
		Headers: []consent.Header{
			{Name: "List-Unsubscribe", Value: "<https://acme.example/unsubscribe?t=abc>"},
			{Name: "List-Unsubscribe-Post", Value: "List-Unsubscribe=One-Click"},
		},
	}
}

func TestCheckAccepts(t *testing.T) {
	tests := []struct {
		name   string
		modify func(*consent.Message)
	}{
		{"full message", func(*consent.Message) {}},
		{"no headers, no reply-to, no name", func(m *consent.Message) { m.Headers, m.ReplyTo, m.FromName = nil, "", "" }},
		{"text only", func(m *consent.Message) { m.HTML = "" }},
		{"HTML only", func(m *consent.Message) { m.Text = "" }},
		{"non-ASCII name and subject", func(m *consent.Message) { m.FromName, m.Subject = "Zoë Café 🍰", "Votre guide — été" }},
		{"header value with tab", func(m *consent.Message) { m.Headers = []consent.Header{{Name: "X-Campaign", Value: "a\tb"}} }},
		{"header name with RFC 5322 punctuation", func(m *consent.Message) { m.Headers = []consent.Header{{Name: "X-A!#$%&'*+/=?^_`{|}~", Value: "v"}} }},
		{"longest header name", func(m *consent.Message) {
			m.Headers = []consent.Header{{Name: strings.Repeat("X", 126), Value: "v"}}
		}},
		{"longest header value", func(m *consent.Message) { m.Headers = []consent.Header{{Name: "X", Value: strings.Repeat("v", 995)}} }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msg := validMessage()
			tt.modify(&msg)
			if err := mailcheck.Check(msg); err != nil {
				t.Fatalf("Check() = %v, want nil", err)
			}
		})
	}
}

func TestCheckRefuses(t *testing.T) {
	tests := []struct {
		name   string
		modify func(*consent.Message)
	}{
		{"missing from", func(m *consent.Message) { m.FromEmail = "" }},
		{"missing to", func(m *consent.Message) { m.To = "" }},
		{"missing subject", func(m *consent.Message) { m.Subject = "" }},
		{"no body", func(m *consent.Message) { m.Text, m.HTML = "", "" }},
		{"CRLF in subject", func(m *consent.Message) { m.Subject = "Hi\r\nBcc: victim@example.com" }},
		{"LF in subject", func(m *consent.Message) { m.Subject = "Hi\nBcc: victim@example.com" }},
		{"CR in subject", func(m *consent.Message) { m.Subject = "Hi\rthere" }},
		{"NUL in subject", func(m *consent.Message) { m.Subject = "Hi\x00" }},
		{"CRLF in from name", func(m *consent.Message) { m.FromName = "Acme\r\nBcc: victim@example.com" }},
		{"NUL in from name", func(m *consent.Message) { m.FromName = "Acme\x00" }},
		{"CRLF in to", func(m *consent.Message) { m.To = "reader@example.com\r\nBcc: victim@example.com" }},
		{"LF in from", func(m *consent.Message) { m.FromEmail = "hello@acme.example\nX: y" }},
		{"NUL in reply-to", func(m *consent.Message) { m.ReplyTo = "support@acme.example\x00" }},
		{"to with display name", func(m *consent.Message) { m.To = "Reader <reader@example.com>" }},
		{"to is a list", func(m *consent.Message) { m.To = "reader@example.com, victim@example.com" }},
		{"reply-to is a list", func(m *consent.Message) { m.ReplyTo = "a@example.com, b@example.com" }},
		{"from not an address", func(m *consent.Message) { m.FromEmail = "acme" }},
		{"to too long", func(m *consent.Message) { m.To = strings.Repeat("a", 64) + "@" + strings.Repeat("b", 190) + ".com" }},
		{"CRLF in header value", func(m *consent.Message) {
			m.Headers = []consent.Header{{Name: "List-Unsubscribe", Value: "<https://x>\r\nBcc: victim@example.com"}}
		}},
		{"LF in header value", func(m *consent.Message) { m.Headers = []consent.Header{{Name: "X-A", Value: "a\nb"}} }},
		{"NUL in header value", func(m *consent.Message) { m.Headers = []consent.Header{{Name: "X-A", Value: "a\x00"}} }},
		{"non-ASCII header value", func(m *consent.Message) { m.Headers = []consent.Header{{Name: "X-A", Value: "café"}} }},
		{"control char in header value", func(m *consent.Message) { m.Headers = []consent.Header{{Name: "X-A", Value: "a\x1bb"}} }},
		{"CRLF in header name", func(m *consent.Message) { m.Headers = []consent.Header{{Name: "X-A\r\nBcc", Value: "v"}} }},
		{"NUL in header name", func(m *consent.Message) { m.Headers = []consent.Header{{Name: "X-A\x00", Value: "v"}} }},
		{"colon in header name", func(m *consent.Message) {
			m.Headers = []consent.Header{{Name: "Bcc: victim@example.com\r\nX", Value: "v"}}
		}},
		{"space in header name", func(m *consent.Message) { m.Headers = []consent.Header{{Name: "X A", Value: "v"}} }},
		{"empty header name", func(m *consent.Message) { m.Headers = []consent.Header{{Name: "", Value: "v"}} }},
		{"non-ASCII header name", func(m *consent.Message) { m.Headers = []consent.Header{{Name: "X-Café", Value: "v"}} }},
		{"header name too long", func(m *consent.Message) { m.Headers = []consent.Header{{Name: strings.Repeat("X", 127), Value: "v"}} }},
		{"header value too long", func(m *consent.Message) { m.Headers = []consent.Header{{Name: "X", Value: strings.Repeat("v", 996)}} }},
		{"header name and value too long", func(m *consent.Message) {
			m.Headers = []consent.Header{{Name: "XY", Value: strings.Repeat("v", 995)}}
		}},
		{"reserved Bcc header", func(m *consent.Message) { m.Headers = []consent.Header{{Name: "bcc", Value: "victim@example.com"}} }},
		{"reserved From header", func(m *consent.Message) { m.Headers = []consent.Header{{Name: "From", Value: "ceo@bank.example"}} }},
		{"reserved Message-ID header", func(m *consent.Message) { m.Headers = []consent.Header{{Name: "MESSAGE-ID", Value: "<x@y>"}} }},
		{"duplicate header", func(m *consent.Message) {
			m.Headers = []consent.Header{{Name: "List-Unsubscribe", Value: "<a>"}, {Name: "list-unsubscribe", Value: "<b>"}}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msg := validMessage()
			tt.modify(&msg)
			err := mailcheck.Check(msg)
			if !errors.Is(err, mailcheck.ErrInvalidMessage) {
				t.Fatalf("Check() = %v, want an error wrapping ErrInvalidMessage", err)
			}
			for _, addr := range []string{"victim@example.com", "reader@example.com", "hello@acme.example"} {
				if strings.Contains(err.Error(), addr) {
					t.Errorf("error %q repeats an address; it must be safe to log", err)
				}
			}
		})
	}
}

func TestFrom(t *testing.T) {
	tests := []struct {
		name, fromName, want string
	}{
		{"no display name", "", "hello@acme.example"},
		{"ASCII name", "Acme Books", `"Acme Books" <hello@acme.example>`},
		{"name needing quotes", `Acme, "Books"`, `"Acme, \"Books\"" <hello@acme.example>`},
		{"non-ASCII name is RFC 2047 encoded", "Zoë Café", "=?utf-8?q?Zo=C3=AB_Caf=C3=A9?= <hello@acme.example>"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := mailcheck.From(consent.Message{FromName: tt.fromName, FromEmail: "hello@acme.example"})
			if got != tt.want {
				t.Errorf("From() = %q, want %q", got, tt.want)
			}
		})
	}
}
