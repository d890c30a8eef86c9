package emulators

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// aws-ses-v2-local (pinned in infra/tools/package.json) keeps every email it
// is asked to send in memory and serves them at GET /store. Start it with
//
//	node infra/tools/node_modules/aws-ses-v2-local/dist/cli.js --host 127.0.0.1 --port PORT
//
// (defaults: --host :: --port 8005; env SMTP_TRANSPORT, a JSON nodemailer
// transport, would also relay each email over SMTP; StartSES removes it).
// Other routes: POST /clear-store empties the store, GET /health-check
// answers 200, and GET / is a web mailbox. The SES routes (POST
// /v2/email/outbound-emails for SESv2 SendEmail, POST / for v1 SendEmail and
// SendRawEmail, ...) only check that an Authorization header starting with
// "AWS" is present (any SigV4 header does; signatures are not verified);
// without one they answer 403.
//
// GET /store answers {"templates": {...}, "emails": [...]}; GET
// /store?since=UNIX_SECONDS keeps the emails with at >= since. One SESv2
// SendEmail with Content.Simple (From "Sender <noreply@example.com>", To and
// Cc, ReplyTo, text and HTML bodies, and Content.Simple.Headers
// [{"Name":"List-Unsubscribe",...},{"Name":"List-Unsubscribe-Post",...}])
// is stored as:
//
//	{
//	  "templates": {},
//	  "emails": [
//	    {
//	      "messageId": "ses-252010392",
//	      "from": "Sender <noreply@example.com>",
//	      "replyTo": ["r@example.com"],
//	      "destination": {"to": ["a@example.com"], "cc": ["c@example.com"], "bcc": []},
//	      "subject": "Hello",
//	      "body": {"html": "<p>html body</p>", "text": "plain body"},
//	      "attachments": [],
//	      "headers": [
//	        {"name": "List-Unsubscribe", "value": "<https://example.com/u?t=1>, <mailto:unsub@example.com>"},
//	        {"name": "List-Unsubscribe-Post", "value": "List-Unsubscribe=One-Click"}
//	      ],
//	      "at": 1795884706
//	    }
//	  ]
//	}
//
// Notes on that shape:
//   - "headers" holds exactly the Content.Simple.Headers (or
//     Content.Template.Headers) of the request, in order, with the name and
//     value as sent (no case folding); the key is absent when the request had
//     none. It does not hold From/To/Subject or any header SES itself adds.
//   - For Content.Raw (and v1 SendRawEmail) the MIME message is parsed:
//     from/to/cc/subject/text/html come from it (from as mailparser prints
//     it, e.g. "\"Sender\" <noreply@example.com>"; text with its trailing
//     newline), but custom headers (List-Unsubscribe, ...) are NOT kept:
//     "headers" is absent.
//   - "body.html" / "body.text" are absent when the email had no such part.
//   - "from" is FromEmailAddress verbatim, display name included.
//   - "at" is the send time in Unix seconds; "messageId" is the MessageId
//     that SendEmail returned.

// SESMessage is one email recorded by aws-ses-v2-local (an element of
// "emails" in GET /store).
type SESMessage struct {
	MessageID   string          `json:"messageId"`
	From        string          `json:"from"`
	ReplyTo     []string        `json:"replyTo"`
	Destination SESDestination  `json:"destination"`
	Subject     string          `json:"subject"`
	Body        SESBody         `json:"body"`
	Attachments []SESAttachment `json:"attachments"`
	// Headers are the request's custom headers (Content.Simple.Headers or
	// Content.Template.Headers) as sent; nil for raw emails.
	Headers []SESHeader `json:"headers"`
	// At is the send time in Unix seconds.
	At int64 `json:"at"`
}

// SESDestination holds the recipients.
type SESDestination struct {
	To  []string `json:"to"`
	Cc  []string `json:"cc"`
	Bcc []string `json:"bcc"`
}

// SESBody holds the rendered bodies; an empty string means no such part.
type SESBody struct {
	HTML string `json:"html"`
	Text string `json:"text"`
}

// SESHeader is one custom header.
type SESHeader struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// SESAttachment is an attachment; Content is base64.
type SESAttachment struct {
	Filename    string `json:"filename"`
	ContentType string `json:"contentType"`
	Content     string `json:"content"`
	Size        int    `json:"size"`
}

// Header returns the value of the first custom header whose name matches
// name case-insensitively.
func (m SESMessage) Header(name string) (string, bool) {
	for _, h := range m.Headers {
		if strings.EqualFold(h.Name, name) {
			return h.Value, true
		}
	}
	return "", false
}

type sesStore struct {
	Templates map[string]any `json:"templates"`
	Emails    []SESMessage   `json:"emails"`
}

// SESStore returns the emails aws-ses-v2-local at endpoint has recorded, in
// the order they were sent.
func SESStore(ctx context.Context, endpoint string) ([]SESMessage, error) {
	url := strings.TrimSuffix(endpoint, "/") + "/store"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, fmt.Errorf("emulators: SESStore: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("emulators: SESStore: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return nil, fmt.Errorf("emulators: SESStore: GET %s: HTTP %d: %s", url, resp.StatusCode, b)
	}
	var s sesStore
	if err := decodeJSON(resp.Body, &s); err != nil {
		return nil, fmt.Errorf("emulators: SESStore: GET %s: %w", url, err)
	}
	return s.Emails, nil
}

// ClearSESStore empties aws-ses-v2-local's store (POST /clear-store).
func ClearSESStore(ctx context.Context, endpoint string) error {
	url := strings.TrimSuffix(endpoint, "/") + "/clear-store"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, nil)
	if err != nil {
		return fmt.Errorf("emulators: ClearSESStore: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("emulators: ClearSESStore: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return fmt.Errorf("emulators: ClearSESStore: POST %s: HTTP %d: %s", url, resp.StatusCode, b)
	}
	return nil
}
