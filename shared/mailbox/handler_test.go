package mailbox_test

import (
	"context"
	"encoding/json"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/unbundled/unbundled/shared/consent"
	"github.com/unbundled/unbundled/shared/mailbox"
)

// serve mounts the mailbox the way the local server does, under /_local/,
// and makes one request.
func serve(t *testing.T, mb *mailbox.Mailbox, method, target string) (*http.Response, string) {
	t.Helper()
	mux := http.NewServeMux()
	mux.Handle("/_local/", mb.Handler())
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest(method, target, nil))
	res := rec.Result()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res, string(body)
}

func wantStatus(t *testing.T, res *http.Response, want int) {
	t.Helper()
	if res.StatusCode != want {
		t.Fatalf("%s %s status = %d, want %d", res.Request.Method, res.Request.URL, res.StatusCode, want)
	}
}

func TestListPage(t *testing.T) {
	mb, now, _ := newMailbox(t)
	ctx := context.Background()
	for i, subject := range []string{"older message", "newer message"} {
		*now = t0.Add(time.Duration(i) * time.Minute)
		msg := freebie()
		msg.Subject = subject
		if _, err := mb.Send(ctx, msg); err != nil {
			t.Fatal(err)
		}
	}

	res, body := serve(t, mb, http.MethodGet, "/_local/mailbox")
	wantStatus(t, res, http.StatusOK)
	if ct := res.Header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
		t.Errorf("Content-Type = %q, want text/html; charset=utf-8", ct)
	}
	if csp := res.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("Content-Security-Policy = %q, want default-src 'none'", csp)
	}
	for _, want := range []string{
		`<html lang="en">`, `<title>Messages · Local mailbox</title>`, `<h1>Messages</h1>`,
		`<a href="/_local/mailbox/m1">older message</a>`, `<a href="/_local/mailbox/m2">newer message</a>`,
		`reader@example.com`, `<time datetime="2025-03-14T09:27:53.589Z">2025-03-14 09:27:53</time>`,
		`<th scope="col">Subject</th>`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("list page lacks %q", want)
		}
	}
	if newer, older := strings.Index(body, "newer message"), strings.Index(body, "older message"); newer > older {
		t.Errorf("list page shows the older message first, want newest first")
	}
}

func TestListPageEmpty(t *testing.T) {
	mb, _, _ := newMailbox(t)
	res, body := serve(t, mb, http.MethodGet, "/_local/mailbox")
	wantStatus(t, res, http.StatusOK)
	if !strings.Contains(body, "No messages yet.") {
		t.Errorf("empty list page lacks the empty-state text; body:\n%s", body)
	}
}

func TestJSONRoute(t *testing.T) {
	mb, now, _ := newMailbox(t)
	ctx := context.Background()

	res, body := serve(t, mb, http.MethodGet, "/_local/mailbox.json")
	wantStatus(t, res, http.StatusOK)
	if strings.TrimSpace(body) != "[]" {
		t.Errorf("empty mailbox JSON = %q, want []", body)
	}

	withHeaders := freebie()
	plain := freebie()
	plain.Subject, plain.ReplyTo, plain.Headers = "second", "", nil
	if _, err := mb.Send(ctx, withHeaders); err != nil {
		t.Fatal(err)
	}
	*now = t0.Add(time.Second)
	if _, err := mb.Send(ctx, plain); err != nil {
		t.Fatal(err)
	}

	res, body = serve(t, mb, http.MethodGet, "/_local/mailbox.json")
	wantStatus(t, res, http.StatusOK)
	if ct := res.Header.Get("Content-Type"); ct != "application/json; charset=utf-8" {
		t.Errorf("Content-Type = %q, want application/json; charset=utf-8", ct)
	}
	var raw []map[string]json.RawMessage
	if err := json.Unmarshal([]byte(body), &raw); err != nil {
		t.Fatalf("decode %s: %v", body, err)
	}
	if len(raw) != 2 {
		t.Fatalf("got %d messages, want 2", len(raw))
	}
	wantKeys := []string{"from", "headers", "html", "id", "sent_at", "subject", "text", "to"}
	for i, m := range raw {
		var keys []string
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		if !reflect.DeepEqual(keys, wantKeys) {
			t.Errorf("message %d keys = %q, want exactly %q", i, keys, wantKeys)
		}
	}

	var list []struct {
		ID      string            `json:"id"`
		From    string            `json:"from"`
		To      []string          `json:"to"`
		Subject string            `json:"subject"`
		Headers map[string]string `json:"headers"`
		Text    string            `json:"text"`
		HTML    string            `json:"html"`
		SentAt  string            `json:"sent_at"`
	}
	if err := json.Unmarshal([]byte(body), &list); err != nil {
		t.Fatal(err)
	}
	first, second := list[0], list[1]
	if first.ID != "m1" || second.ID != "m2" {
		t.Errorf("ids = %q, %q, want m1, m2 (newest last)", first.ID, second.ID)
	}
	if first.SentAt != "2025-03-14T09:26:53.589793Z" {
		t.Errorf("sent_at = %q, want RFC 3339 UTC 2025-03-14T09:26:53.589793Z", first.SentAt)
	}
	if !reflect.DeepEqual(first.To, []string{"reader@example.com"}) {
		t.Errorf("to = %q, want [reader@example.com]", first.To)
	}
	if first.Subject != withHeaders.Subject || first.Text != withHeaders.Text || first.HTML != withHeaders.HTML {
		t.Errorf("subject/text/html = %q/%q/%q, want the message as sent", first.Subject, first.Text, first.HTML)
	}
	if first.From != first.Headers["From"] {
		t.Errorf("from = %q, want the From header %q", first.From, first.Headers["From"])
	}
	if got := first.Headers["List-Unsubscribe-Post"]; got != "List-Unsubscribe=One-Click" {
		t.Errorf("first headers List-Unsubscribe-Post = %q, want List-Unsubscribe=One-Click", got)
	}
	for _, name := range []string{"List-Unsubscribe", "List-Unsubscribe-Post", "Reply-To"} {
		if v, ok := second.Headers[name]; ok {
			t.Errorf("second headers[%q] = %q, want absent", name, v)
		}
	}
}

func TestMessagePage(t *testing.T) {
	mb, _, _ := newMailbox(t)
	id, err := mb.Send(context.Background(), freebie())
	if err != nil {
		t.Fatal(err)
	}
	res, body := serve(t, mb, http.MethodGet, "/_local/mailbox/"+id)
	wantStatus(t, res, http.StatusOK)
	for _, want := range []string{
		`<html lang="en">`,
		`<title>Your download: Café guide · Local mailbox</title>`,
		`<h1>Your download: Café guide</h1>`,
		`<th scope="row">List-Unsubscribe-Post</th><td>List-Unsubscribe=One-Click</td>`,
		`<th scope="row">Reply-To</th><td>support@acme.example</td>`,
		`<pre>Download: https://acme.example/dl/guide.pdf`,
		`<a href="https://acme.example/unsubscribe?t=tok" rel="noreferrer">`,
		`<iframe sandbox srcdoc="`,
		`<a href="/_local/mailbox/m1/html">`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("message page lacks %q", want)
		}
	}
	if got := srcdoc(t, body); got != freebie().HTML {
		t.Errorf("iframe srcdoc decodes to %q, want the HTML part %q", got, freebie().HTML)
	}
	// Standard headers come first, in a fixed order.
	if f, l := strings.Index(body, `<th scope="row">From</th>`), strings.Index(body, `<th scope="row">List-Unsubscribe</th>`); f < 0 || l < 0 || f > l {
		t.Errorf("From header row should come before List-Unsubscribe")
	}
}

func TestMessagePageWithoutParts(t *testing.T) {
	mb, _, _ := newMailbox(t)
	ctx := context.Background()
	textOnly, err := mb.Send(ctx, consent.Message{FromEmail: "hello@acme.example", To: "reader@example.com", Subject: "s", Text: "only text"})
	if err != nil {
		t.Fatal(err)
	}
	res, body := serve(t, mb, http.MethodGet, "/_local/mailbox/"+textOnly)
	wantStatus(t, res, http.StatusOK)
	if !strings.Contains(body, "This message has no HTML part.") || strings.Contains(body, "<iframe") {
		t.Errorf("text-only message page should say it has no HTML part and show no iframe")
	}
	res, _ = serve(t, mb, http.MethodGet, "/_local/mailbox/"+textOnly+"/html")
	wantStatus(t, res, http.StatusNotFound)

	htmlOnly, err := mb.Send(ctx, consent.Message{FromEmail: "hello@acme.example", To: "reader@example.com", Subject: "s", HTML: "<p>h</p>"})
	if err != nil {
		t.Fatal(err)
	}
	_, body = serve(t, mb, http.MethodGet, "/_local/mailbox/"+htmlOnly)
	if !strings.Contains(body, "This message has no text part.") {
		t.Errorf("HTML-only message page should say it has no text part")
	}
}

func TestRawHTMLRoute(t *testing.T) {
	mb, _, _ := newMailbox(t)
	id, err := mb.Send(context.Background(), freebie())
	if err != nil {
		t.Fatal(err)
	}
	res, body := serve(t, mb, http.MethodGet, "/_local/mailbox/"+id+"/html")
	wantStatus(t, res, http.StatusOK)
	if body != freebie().HTML {
		t.Errorf("body = %q, want the raw HTML part %q", body, freebie().HTML)
	}
	wantHeaders := map[string]string{
		"Content-Type":            "text/html; charset=utf-8",
		"Content-Security-Policy": "sandbox; default-src 'none'; img-src data:; style-src 'unsafe-inline'",
		"X-Content-Type-Options":  "nosniff",
	}
	for name, want := range wantHeaders {
		if got := res.Header.Get(name); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
}

func TestUnknownRoutes(t *testing.T) {
	mb, _, _ := newMailbox(t)
	if _, err := mb.Send(context.Background(), freebie()); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		method, target string
		want           int
	}{
		{http.MethodGet, "/_local/mailbox/nope", http.StatusNotFound},
		{http.MethodGet, "/_local/mailbox/nope/html", http.StatusNotFound},
		{http.MethodGet, "/_local/mailbox/", http.StatusNotFound},
		{http.MethodGet, "/_local/mailbox/m1/other", http.StatusNotFound},
		{http.MethodPost, "/_local/mailbox", http.StatusMethodNotAllowed},
		{http.MethodDelete, "/_local/mailbox/m1", http.StatusMethodNotAllowed},
		{http.MethodHead, "/_local/mailbox/m1", http.StatusOK},
		{http.MethodHead, "/_local/mailbox.json", http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.target, func(t *testing.T) {
			res, _ := serve(t, mb, tt.method, tt.target)
			wantStatus(t, res, tt.want)
		})
	}
}

func TestPagesEscapeHostileContent(t *testing.T) {
	mb, _, _ := newMailbox(t)
	hostile := consent.Message{
		FromName:  `"><script>alert('name')</script>`,
		FromEmail: "hello@acme.example", To: "reader@example.com",
		Subject: `</title><script>alert("subject")</script>`,
		Text:    "</pre><script>alert('text')</script>\njavascript:alert(1) https://ok.example/<script>",
		HTML:    `"></iframe><script>alert('html')</script><img src=x onerror="alert(1)">`,
		Headers: []consent.Header{{Name: "X-Test", Value: `<script>alert('header')</script>`}},
	}
	id, err := mb.Send(context.Background(), hostile)
	if err != nil {
		t.Fatal(err)
	}
	for _, target := range []string{"/_local/mailbox", "/_local/mailbox/" + id} {
		res, body := serve(t, mb, http.MethodGet, target)
		wantStatus(t, res, http.StatusOK)
		if strings.Contains(strings.ToLower(body), "<script") {
			t.Errorf("GET %s: page contains an unescaped <script", target)
		}
		if !strings.Contains(body, `&lt;/title&gt;&lt;script&gt;alert(&#34;subject&#34;)&lt;/script&gt;`) {
			t.Errorf("GET %s: escaped subject not found", target)
		}
	}
	_, body := serve(t, mb, http.MethodGet, "/_local/mailbox/"+id)
	if got := srcdoc(t, body); got != hostile.HTML {
		t.Errorf("iframe srcdoc decodes to %q, want the HTML part unchanged %q", got, hostile.HTML)
	}
	if strings.Contains(body, "javascript:") && strings.Contains(body, `href="javascript:`) {
		t.Errorf("a javascript: URL became a link")
	}
}

// srcdoc returns the decoded srcdoc attribute of the page's iframe. The
// attribute is double-quoted, so a raw '"' cannot occur inside it.
func srcdoc(t *testing.T, page string) string {
	t.Helper()
	const open = `<iframe sandbox srcdoc="`
	i := strings.Index(page, open)
	if i < 0 {
		t.Fatalf("page has no %s", open)
	}
	rest := page[i+len(open):]
	end := strings.IndexByte(rest, '"')
	if end < 0 {
		t.Fatal("srcdoc attribute is not closed")
	}
	return html.UnescapeString(rest[:end])
}

// The message page must not scroll sideways on a 375 px phone, whatever
// the message holds: long links, long lines and long header values wrap,
// and no box is wider than the page.
func TestMessagePageFitsANarrowScreen(t *testing.T) {
	mb, _, _ := newMailbox(t)
	msg := freebie()
	long := "https://acme.example/unsubscribe?t=" + strings.Repeat("x", 400)
	msg.Text += "\n" + long + "\n" + strings.Repeat("-", 300) + "\n"
	id, err := mb.Send(context.Background(), msg)
	if err != nil {
		t.Fatal(err)
	}
	res, body := serve(t, mb, http.MethodGet, "/_local/mailbox/"+id)
	wantStatus(t, res, http.StatusOK)
	style := body[strings.Index(body, "<style>"):strings.Index(body, "</style>")]
	for _, rule := range []string{
		`<meta name="viewport" content="width=device-width, initial-scale=1">`,
		"*, *::before, *::after { box-sizing: border-box; }",
		"overflow-wrap: anywhere;",
		"main, pre, table, iframe, img { max-width: 100%; }",
		"pre { white-space: pre-wrap;",
	} {
		if !strings.Contains(body, rule) {
			t.Errorf("message page lacks %q", rule)
		}
	}
	if !strings.Contains(style, "body {") || !strings.Contains(style[strings.Index(style, "body {"):], "overflow-wrap: anywhere") {
		t.Errorf("the page body does not let long words and links break")
	}
	if strings.Contains(style, "nowrap") {
		t.Errorf("the page keeps some text from wrapping:\n%s", style)
	}
	if !strings.Contains(body, `<a href="`+long+`" rel="noreferrer">`) {
		t.Errorf("the long link is not listed")
	}
}
