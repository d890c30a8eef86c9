package consent_test

import (
	"context"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"

	"golang.org/x/net/html"

	"github.com/unbundled/unbundled/shared/consent"
	"github.com/unbundled/unbundled/shared/magnet"
)

// PECR regulation 6 covers email too: a tracking pixel or a rewritten
// click-tracking link reads when and where a person opened a message,
// without their consent. Our emails must carry neither, and no extra header
// an email service could use to turn tracking on.

// TestEmailsTrackNothing builds every kind of email the service sends and
// checks that none loads anything when opened, that every link goes only to
// this service or the magnet's own configured URLs without tracking
// parameters, and that the only extra headers are today's list headers.
func TestEmailsTrackNothing(t *testing.T) {
	listHeaderNames := []string{"List-Unsubscribe", "List-Unsubscribe-Post", "List-Id"}
	tests := []struct {
		name        string
		edit        func(*magnet.Magnet) // changes the sample magnet first
		send        func(*testing.T, *fixture)
		subject     string   // prefix proving which email this is
		wantHeaders []string // extra header names, in order
	}{
		{
			name:    "freebie without consent",
			send:    func(t *testing.T, f *fixture) { f.signup(t, "ann@example.com", false) },
			subject: "Your download: ",
		},
		{
			name:        "freebie with consent awaiting confirmation",
			send:        func(t *testing.T, f *fixture) { f.signup(t, "ann@example.com", true) },
			subject:     "Your download: ",
			wantHeaders: listHeaderNames,
		},
		{
			name:        "freebie with consent, single opt-in",
			edit:        func(m *magnet.Magnet) { off := false; m.DoubleOptIn = &off },
			send:        func(t *testing.T, f *fixture) { f.signup(t, "ann@example.com", true) },
			subject:     "Your download: ",
			wantHeaders: listHeaderNames,
		},
		{
			name:        "freebie with the download hosted elsewhere",
			edit:        func(m *magnet.Magnet) { m.DownloadURL = "https://files.example.net/checklist.pdf" },
			send:        func(t *testing.T, f *fixture) { f.signup(t, "ann@example.com", true) },
			subject:     "Your download: ",
			wantHeaders: listHeaderNames,
		},
		{
			name: "confirm link",
			send: func(t *testing.T, f *fixture) {
				f.signup(t, "ann@example.com", true)
				tok := linkToken(t, f.mailer.Sent()[0].Text, "/confirm")
				f.now = t0.Add(magnet.DefaultConfirmExpiry)
				if err := f.svc.ResendConfirmation(context.Background(), tok); err != nil {
					t.Fatal(err)
				}
			},
			subject: "Please confirm: ",
		},
		{
			name: "consent receipt",
			send: func(t *testing.T, f *fixture) {
				f.signup(t, "ann@example.com", true)
				if _, err := f.svc.Confirm(context.Background(), linkToken(t, f.mailer.Sent()[0].Text, "/confirm"), ev); err != nil {
					t.Fatal(err)
				}
			},
			subject:     "Your consent receipt: ",
			wantHeaders: listHeaderNames,
		},
		{
			name: "withdrawal link",
			send: func(t *testing.T, f *fixture) {
				f.signup(t, "ann@example.com", true)
				if err := f.svc.RequestWithdrawalLinks(context.Background(), "ann@example.com", ev); err != nil {
					t.Fatal(err)
				}
			},
			subject: "Your unsubscribe link for ",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			if tt.edit != nil {
				f.setMagnet(t, tt.edit)
			}
			tt.send(t, f)
			sent := f.mailer.Sent()
			if len(sent) == 0 {
				t.Fatal("no email sent")
			}
			msg := sent[len(sent)-1]
			if !strings.HasPrefix(msg.Subject, tt.subject) {
				t.Fatalf("subject: got %q, want it to start %q", msg.Subject, tt.subject)
			}
			if msg.HTML == "" || !strings.Contains(msg.HTML, "<a ") {
				t.Fatalf("HTML part: got %q, want a page with links to check", msg.HTML)
			}
			m, _ := f.svc.Catalog.Get("uk-gdpr-checklist")
			allowed := emailLinkAllowed(f.svc.BaseURL, m)

			var gotHeaders []string
			for _, h := range msg.Headers {
				gotHeaders = append(gotHeaders, h.Name)
			}
			if !slices.Equal(gotHeaders, tt.wantHeaders) {
				t.Errorf("extra headers: got %q, want %q", gotHeaders, tt.wantHeaders)
			}
			for _, p := range messageTrackingProblems(msg, allowed) {
				t.Error(p)
			}
		})
	}
}

// emailLinkAllowed reports whether an emailed link may point at u: this
// service (under base) or magnet m's configured privacy policy or download.
func emailLinkAllowed(base string, m magnet.Magnet) func(u string) bool {
	return func(u string) bool {
		return strings.HasPrefix(u, base+"/") || u == m.PrivacyPolicyURL || u == m.DownloadURL
	}
}

// messageTrackingProblems lists everything in msg that could track its
// reader: the HTML part's problems (htmlEmailProblems), and links in the
// text part and in List-Unsubscribe that go elsewhere or carry tracking
// parameters.
func messageTrackingProblems(msg consent.Message, allowed func(string) bool) []string {
	problems := htmlEmailProblems(msg.HTML, allowed)
	for _, u := range textURLs.FindAllString(msg.Text, -1) {
		for _, p := range emailLinkProblems(u, allowed) {
			problems = append(problems, "text part: "+p)
		}
	}
	for _, h := range msg.Headers {
		if h.Name != "List-Unsubscribe" {
			continue
		}
		for _, m := range angleURLs.FindAllStringSubmatch(h.Value, -1) {
			for _, p := range emailLinkProblems(m[1], allowed) {
				problems = append(problems, "List-Unsubscribe: "+p)
			}
		}
	}
	return problems
}

var (
	textURLs  = regexp.MustCompile(`(?i)\bhttps?://[^\s<>"]+`)
	angleURLs = regexp.MustCompile(`<([^>]*)>`)
)

// trackingParameters are query parameters email and ad platforms add to
// links to follow a reader; any "utm_" parameter counts as well.
var trackingParameters = []string{"mc_eid", "mc_cid", "_hsenc", "_hsmi", "fbclid", "gclid", "dclid", "msclkid", "yclid", "mkt_tok", "vero_id", "oly_enc_id", "_ke"}

// emailLinkProblems lists why a link in an email could track: it does not
// parse, goes somewhere allowed does not accept, or carries a tracking
// parameter.
func emailLinkProblems(link string, allowed func(string) bool) []string {
	u, err := url.Parse(strings.TrimSpace(link))
	if err != nil {
		return []string{fmt.Sprintf("link %q does not parse: %v", link, err)}
	}
	var problems []string
	if !allowed(strings.TrimSpace(link)) {
		problems = append(problems, fmt.Sprintf("link %q goes neither to this service nor to the magnet's privacy policy or download", link))
	}
	for key := range u.Query() {
		k := strings.ToLower(key)
		if strings.HasPrefix(k, "utm_") || slices.Contains(trackingParameters, k) {
			problems = append(problems, fmt.Sprintf("link %q has tracking parameter %s", link, key))
		}
	}
	return problems
}

// emailLoadAttributes are attributes whose URL a mail client fetches when
// the email is opened (href only on elements other than <a>).
var emailLoadAttributes = []string{"src", "href", "background", "poster", "data", "codebase", "xlink:href", "dynsrc", "lowsrc"}

// htmlEmailProblems parses an HTML email and lists what could tell anyone it
// was opened or which link was clicked: any <img> that is not a data: URI
// (a pixel on our own domain tracks as well as anyone's), any image sized
// 1x1 or hidden, anything else that loads a URL other than data: (link,
// script, iframe, background, srcset, style sheet url() or @import), ping
// beacons, and <a href> or form links that go elsewhere or carry tracking
// parameters.
func htmlEmailProblems(body string, allowed func(string) bool) []string {
	doc, err := html.Parse(strings.NewReader(body))
	if err != nil {
		return []string{fmt.Sprintf("parse HTML part: %v", err)}
	}
	var problems []string
	for n := range doc.Descendants() {
		if n.Type != html.ElementNode {
			continue
		}
		if n.Data == "img" && isTinyOrHidden(n) {
			problems = append(problems, fmt.Sprintf("<img> sized or styled as a hidden 1x1 image: %s", renderTag(n)))
		}
		if n.Data == "style" {
			var css strings.Builder
			for c := range n.Descendants() {
				if c.Type == html.TextNode {
					css.WriteString(c.Data)
				}
			}
			problems = append(problems, cssLoadProblems("<style>", css.String())...)
		}
		for _, a := range n.Attr {
			key := strings.ToLower(a.Key)
			if a.Namespace != "" {
				key = a.Namespace + ":" + key
			}
			switch {
			case key == "ping":
				problems = append(problems, fmt.Sprintf("<%s ping=%q> sends a beacon on click", n.Data, a.Val))
			case key == "href" && n.Data == "a", key == "action", key == "formaction":
				for _, p := range emailLinkProblems(a.Val, allowed) {
					problems = append(problems, fmt.Sprintf("<%s %s>: %s", n.Data, key, p))
				}
			case slices.Contains(emailLoadAttributes, key):
				if !isDataURI(a.Val) {
					problems = append(problems, fmt.Sprintf("<%s %s=%q> loads a URL when opened, want none (or data:)", n.Data, key, a.Val))
				}
			case key == "srcset":
				for _, c := range strings.Split(a.Val, ",") {
					if f := strings.Fields(c); len(f) > 0 && !isDataURI(f[0]) {
						problems = append(problems, fmt.Sprintf("<%s srcset> loads %q when opened", n.Data, f[0]))
					}
				}
			case key == "style":
				problems = append(problems, cssLoadProblems(fmt.Sprintf("<%s style>", n.Data), a.Val)...)
			}
		}
	}
	return problems
}

var (
	emailCSSURL    = regexp.MustCompile(`(?i)url\(\s*(?:"([^"]*)"|'([^']*)'|([^)'"\s]*))\s*\)`)
	emailCSSImport = regexp.MustCompile(`(?i)@import\b`)
	tinyCSS        = regexp.MustCompile(`(?i)(?:^|[;\s])(?:(?:max-)?(?:width|height)\s*:\s*[01](?:px)?\s*(?:;|$|!)|display\s*:\s*none|visibility\s*:\s*hidden)`)
)

// cssLoadProblems lists url() values other than data: and any @import in
// css, found in where.
func cssLoadProblems(where, css string) []string {
	var problems []string
	for _, m := range emailCSSURL.FindAllStringSubmatch(css, -1) {
		if u := strings.Join(m[1:], ""); !isDataURI(u) {
			problems = append(problems, fmt.Sprintf("%s url(%q) loads a URL when opened", where, u))
		}
	}
	if emailCSSImport.MatchString(css) {
		problems = append(problems, fmt.Sprintf("%s has @import, which loads a style sheet when opened", where))
	}
	return problems
}

// isTinyOrHidden reports whether img is sized 0 or 1 pixel by attribute or
// style, or hidden: the shape of a tracking pixel.
func isTinyOrHidden(img *html.Node) bool {
	for _, a := range img.Attr {
		v := strings.TrimSuffix(strings.TrimSpace(a.Val), "px")
		switch strings.ToLower(a.Key) {
		case "width", "height":
			if v == "0" || v == "1" {
				return true
			}
		case "hidden":
			return true
		case "style":
			if tinyCSS.MatchString(a.Val) {
				return true
			}
		}
	}
	return false
}

func isDataURI(u string) bool {
	return strings.HasPrefix(strings.ToLower(strings.TrimSpace(u)), "data:")
}

func renderTag(n *html.Node) string {
	var b strings.Builder
	b.WriteString("<" + n.Data)
	for _, a := range n.Attr {
		fmt.Fprintf(&b, " %s=%q", a.Key, a.Val)
	}
	return b.String() + ">"
}

// TestHTMLEmailProblems proves the email check finds what it looks for.
func TestHTMLEmailProblems(t *testing.T) {
	m := magnet.Magnet{PrivacyPolicyURL: "https://example.com/privacy", DownloadURL: "https://files.example.net/c.pdf"}
	allowed := emailLinkAllowed("https://signup.example.com", m)
	tests := []struct {
		name string
		html string
		want string // a substring of the one problem expected; "" for none
	}{
		{"clean email", `<html><body style="font-family: Arial; color: #1a1a1a">
			<p><a href="https://signup.example.com/confirm?t=k1.a.b" style="color:#fff">Confirm</a>
			<a href="https://example.com/privacy">Privacy</a> <a href="https://files.example.net/c.pdf">Download</a>
			<img src="data:image/png;base64,iVBOR" width="120" alt="logo"></p></body></html>`, ""},
		{"remote pixel", `<img src="https://t.example/open.gif" alt="">`, `<img src="https://t.example/open.gif"> loads a URL`},
		{"pixel on our own domain", `<img src="https://signup.example.com/o.gif" alt="">`, `<img src="https://signup.example.com/o.gif">`},
		{"1x1 data image", `<img src="data:image/gif;base64,R0lG" width="1" height="1">`, "hidden 1x1 image"},
		{"hidden data image", `<img src="data:image/gif;base64,R0lG" style="display:none">`, "hidden 1x1 image"},
		{"1px by style", `<img src="data:image/gif;base64,R0lG" style="width:1px;height:1px">`, "hidden 1x1 image"},
		{"remote srcset", `<img src="data:image/gif;base64,R0lG" srcset="https://t.example/o.gif 2x">`, `<img srcset> loads "https://t.example/o.gif"`},
		{"table background", `<table><tr><td background="https://t.example/o.gif">x</td></tr></table>`, `<td background=`},
		{"remote style sheet", `<link rel="stylesheet" href="https://t.example/s.css">`, `<link href="https://t.example/s.css">`},
		{"remote script", `<script src="https://t.example/s.js"></script>`, `<script src=`},
		{"style url", `<style>.x{background:url('https://t.example/o.gif')}</style>`, `<style> url("https://t.example/o.gif")`},
		{"style import", `<style>@import "https://fonts.googleapis.com/css";</style>`, "@import"},
		{"style attribute url", `<div style="background-image:url(https://t.example/o.gif)">x</div>`, `<div style> url(`},
		{"utm link", `<a href="https://signup.example.com/confirm?t=x&amp;utm_source=newsletter">x</a>`, "tracking parameter utm_source"},
		{"mailchimp id", `<a href="https://signup.example.com/unsubscribe?t=x&amp;mc_eid=abc">x</a>`, "tracking parameter mc_eid"},
		{"hubspot", `<a href="https://signup.example.com/x?_hsenc=p2ANqtz">x</a>`, "tracking parameter _hsenc"},
		{"fbclid", `<a href="https://signup.example.com/x?fbclid=1">x</a>`, "tracking parameter fbclid"},
		{"gclid", `<a href="https://signup.example.com/x?gclid=1">x</a>`, "tracking parameter gclid"},
		{"click redirector", `<a href="https://click.t.example/ls/click?upn=x">x</a>`, "goes neither to this service"},
		{"lookalike host", `<a href="https://signup.example.com.t.example/x">x</a>`, "goes neither to this service"},
		{"ping", `<a href="https://example.com/privacy" ping="https://t.example/p">x</a>`, "ping="},
		{"iframe", `<iframe src="https://t.example/f"></iframe>`, `<iframe src=`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := htmlEmailProblems(tt.html, allowed)
			switch {
			case tt.want == "" && len(got) != 0:
				t.Errorf("got %q, want no problems", got)
			case tt.want != "" && (len(got) != 1 || !strings.Contains(got[0], tt.want)):
				t.Errorf("got %q, want one problem containing %q", got, tt.want)
			}
		})
	}
}

// TestMessageTrackingProblems proves the text part and List-Unsubscribe are
// checked too.
func TestMessageTrackingProblems(t *testing.T) {
	allowed := emailLinkAllowed("https://signup.example.com", magnet.Magnet{PrivacyPolicyURL: "https://example.com/privacy"})
	clean := `<p><a href="https://example.com/privacy">Privacy</a></p>`
	tests := []struct {
		name string
		msg  consent.Message
		want string // a substring of the one problem expected; "" for none
	}{
		{"clean", consent.Message{HTML: clean, Text: "Download: https://signup.example.com/_local/files/x.txt\nPrivacy: https://example.com/privacy\n",
			Headers: []consent.Header{{Name: "List-Unsubscribe", Value: "<https://signup.example.com/unsubscribe?t=k1.a.b>"}}}, ""},
		{"text link with utm", consent.Message{HTML: clean, Text: "https://signup.example.com/confirm?t=x&utm_medium=email"}, "text part: link"},
		{"text link elsewhere", consent.Message{HTML: clean, Text: "Read https://t.example/r?u=1 now"}, "text part: link \"https://t.example/r?u=1\""},
		{"unsubscribe elsewhere", consent.Message{HTML: clean, Headers: []consent.Header{{Name: "List-Unsubscribe", Value: "<https://esp.example/u?id=1>"}}}, "List-Unsubscribe: link"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := messageTrackingProblems(tt.msg, allowed)
			switch {
			case tt.want == "" && len(got) != 0:
				t.Errorf("got %q, want no problems", got)
			case tt.want != "" && (len(got) != 1 || !strings.Contains(got[0], tt.want)):
				t.Errorf("got %q, want one problem containing %q", got, tt.want)
			}
		})
	}
}
