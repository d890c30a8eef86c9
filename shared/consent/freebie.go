package consent

import (
	"context"
	"embed"
	htmltemplate "html/template"
	"net/url"
	"strings"
	texttemplate "text/template"

	"github.com/unbundled/unbundled/shared/magnet"
	"github.com/unbundled/unbundled/shared/token"
)

//go:embed templates/*.tmpl
var templateFS embed.FS

var (
	freebieText = texttemplate.Must(texttemplate.ParseFS(templateFS, "templates/freebie.txt.tmpl"))
	freebieHTML = htmltemplate.Must(htmltemplate.ParseFS(templateFS, "templates/freebie.html.tmpl"))
)

type freebieData struct {
	Magnet         magnet.Magnet
	Name           string
	DownloadURL    string
	PrivacyURL     string
	UnsubscribeURL string // empty unless marketing consent stands
	ConfirmURL     string // empty unless consent awaits confirmation
	// Subscribed: consent stands confirmed (or needed no confirmation), so
	// the email may say the person agreed to marketing. While consent only
	// awaits confirmation it speaks of marketing as what they may confirm.
	Subscribed bool
}

// freebieMessage builds the freebie email. It is a service message: the
// download and who sent it. Only while consent stands does it carry the
// unsubscribe link and the RFC 8058 one-click headers, and while consent
// awaits confirmation, the confirm link.
func (s *Service) freebieMessage(ctx context.Context, m magnet.Magnet, name, subscriber string, st Status) (Message, error) {
	d := freebieData{Magnet: m, Name: name, DownloadURL: s.absoluteURL(ctx, m.DownloadURL), PrivacyURL: s.absoluteURL(ctx, m.PrivacyPolicyURL)}
	if g, awaiting := st.AwaitingConfirmation(); awaiting {
		d.ConfirmURL = s.ConfirmURL(ctx, subscriber, m, g.ID)
	}
	if st.Consented() {
		d.UnsubscribeURL = s.UnsubscribeURL(ctx, subscriber, m.ID)
	}
	d.Subscribed = st.State == StateActive
	msg, err := render(freebieText, freebieHTML, d)
	if err != nil {
		return Message{}, err
	}
	msg.Subject = "Your download: " + m.Title
	if d.UnsubscribeURL != "" {
		msg.Headers = listHeaders(m, d.UnsubscribeURL)
	}
	return msg, nil
}

// UnsubscribeURL is the never-expiring one-click link for one subscriber and
// magnet. It carries only a signed opaque token, never the address.
func (s *Service) UnsubscribeURL(ctx context.Context, subscriber, magnetID string) string {
	tok := s.Keys.Signing.Sign(token.Claims{Purpose: PurposeUnsubscribe, Subject: subscriber, Scope: magnetID})
	return s.baseURL(ctx) + "/unsubscribe?t=" + url.QueryEscape(tok)
}

func (s *Service) absoluteURL(ctx context.Context, link string) string {
	if strings.HasPrefix(link, "/") {
		return s.baseURL(ctx) + link
	}
	return link
}

// listHeaders are the headers every marketing-capable email carries: exactly
// one List-Unsubscribe URI (our signed link), the RFC 8058 one-click marker
// and a List-Id naming the magnet's list under the sender's domain.
func listHeaders(m magnet.Magnet, unsubscribeURL string) []Header {
	_, domain, _ := strings.Cut(m.SenderEmail, "@")
	return []Header{
		{Name: "List-Unsubscribe", Value: "<" + unsubscribeURL + ">"},
		{Name: "List-Unsubscribe-Post", Value: "List-Unsubscribe=One-Click"},
		{Name: "List-Id", Value: "<" + m.ID + "." + domain + ">"},
	}
}

// heldName is the name an email greets the person by: the name the job was
// queued with (see greetingName) or, for a job queued without one (a
// receipt, a resent confirm link), the name held on them now (CurrentName).
func heldName(job Job, ledger []Event) string {
	if name := greetingName(job, ledger); name != "" || job.Name != "" {
		return name
	}
	return CurrentName(ledger)
}
