package web_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/unbundled/unbundled/shared/web"
)

// PECR regulation 6: no storage of or access to information on a visitor's
// device (cookies and the like) and nothing that makes their browser contact
// someone else, unless they agreed. Our pages ask for consent, so they must
// never do either before it is given. These tests fail if a page starts to
// set a cookie, loosens the Content-Security-Policy, or loads anything from
// another origin.

// serviceOrigin is where newEnv's service lives (consenttest.Service).
const serviceOrigin = "https://signup.example.com"

// pageVisit is one request whose answer must track nothing.
type pageVisit struct {
	name    string
	method  string
	target  func(*flowLinks) string
	ctype   string
	body    string
	headers []string
	landing bool // serve with Server.LandingPage as infra/local mounts it at GET /
	// before runs first, e.g. to move the clock.
	before     func(*env)
	wantStatus int
	wantText   string // proves the page rendered its real content
}

// flowLinks are the emailed links of the sign-up the flow makes.
type flowLinks struct{ confirm, unsubscribe string }

func fixed(target string) func(*flowLinks) string { return func(*flowLinks) string { return target } }

// TestPagesTrackNothing follows a real sign-up → confirm → unsubscribe flow
// (plus the landing page, every GET route and the error pages a visitor can
// reach) and checks every answer: no cookie, a CSP that lets nothing load
// from elsewhere, and HTML that loads nothing from elsewhere.
func TestPagesTrackNothing(t *testing.T) {
	confirmLink := func(l *flowLinks) string { return l.confirm }
	unsubscribeLink := func(l *flowLinks) string { return l.unsubscribe }
	resendLink := func(l *flowLinks) string { return strings.Replace(l.confirm, "/confirm?", "/confirm/resend?", 1) }
	signupForm := "email=ann%40example.com&magnet=uk-gdpr-checklist&marketing_consent=yes"
	// A data-request link is taken from the last email by the step that
	// first opens it (before), and kept for the steps after it.
	var privacyLink string
	lastPrivacyLink := func(e *env) {
		sent := e.mailer.Sent()
		privacyLink = linkIn(t, sent[len(sent)-1].Text, "/privacy/confirm")
	}
	privacyLinkTarget := func(*flowLinks) string { return privacyLink }

	// The steps run in order on one server: later steps see the state
	// earlier ones made.
	steps := []pageVisit{
		{name: "landing page", method: "GET", target: fixed("/"), landing: true, wantStatus: 200, wantText: "Send me the download"},
		{name: "thanks without magnet", method: "GET", target: fixed("/thanks"), wantStatus: 400, wantText: "We can't find this download"},
		{name: "thanks for an unknown magnet", method: "GET", target: fixed("/thanks?magnet=unknown"), wantStatus: 404, wantText: "We can't find this download"},
		{name: "thanks", method: "GET", target: fixed("/thanks?magnet=uk-gdpr-checklist"), wantStatus: 200, wantText: "The UK GDPR Lead-Magnet Checklist"},
		{name: "thanks, box ticked", method: "GET", target: fixed("/thanks?magnet=uk-gdpr-checklist&confirm=1"), wantStatus: 200, wantText: "One more step"},
		{name: "unknown path", method: "GET", target: fixed("/no-such-page"), wantStatus: 404, wantText: "Page not found"},
		{name: "privacy notice", method: "GET", target: fixed("/notice?magnet=uk-gdpr-checklist"), wantStatus: 200, wantText: "<h2>Your rights</h2>"},
		{name: "privacy notice of an unknown magnet", method: "GET", target: fixed("/notice?magnet=nope"), wantStatus: 404, wantText: "This privacy notice does not exist"},
		{name: "unknown privacy notice version", method: "GET", target: fixed("/notice?magnet=uk-gdpr-checklist&version=notice-00000000000000000000000000000000"), wantStatus: 404, wantText: "This privacy notice does not exist"},
		{name: "form snippet", method: "GET", target: fixed("/forms/uk-gdpr-checklist"), wantStatus: 200, wantText: `name="marketing_consent" value="yes">`},
		{name: "form script", method: "GET", target: fixed("/forms/uk-gdpr-checklist.js"), wantStatus: 200, wantText: `"uk-gdpr-checklist"`},
		{name: "form of an unknown magnet", method: "GET", target: fixed("/forms/nope"), wantStatus: 404, wantText: "No sign-up form here"},
		{name: "withdraw form", method: "GET", target: fixed("/withdraw"), wantStatus: 200, wantText: `name="email"`},
		{name: "data request form", method: "GET", target: fixed("/privacy"), wantStatus: 200, wantText: `name="request"`},
		{name: "data request link without token", method: "GET", target: fixed("/privacy/confirm"), wantStatus: 400, wantText: "This link does not work"},
		{name: "unsubscribe without token", method: "GET", target: fixed("/unsubscribe"), wantStatus: 400, wantText: "This link does not work"},
		{name: "confirm without token", method: "GET", target: fixed("/confirm"), wantStatus: 400, wantText: "This link does not work"},
		{name: "sign-up errors", method: "POST", target: fixed("/signup"), ctype: form, body: "email=nope&magnet=uk-gdpr-checklist", wantStatus: 400, wantText: "Please check your details"},
		{name: "sign-up from a refused origin", method: "POST", target: fixed("/signup"), ctype: form, body: signupForm,
			headers: []string{"Origin", "https://elsewhere.example"}, wantStatus: 403, wantText: "Sign up on 127.0.0.1:8080"},
		{name: "sign-up", method: "POST", target: fixed("/signup"), ctype: form, body: signupForm, wantStatus: 303},
		{name: "confirm page", method: "GET", target: confirmLink, wantStatus: 200, wantText: "Yes, send me these emails"},
		{name: "confirm page", method: "HEAD", target: confirmLink, wantStatus: 200},
		{name: "unsubscribe page", method: "GET", target: unsubscribeLink, wantStatus: 200, wantText: `<button type="submit">Stop all marketing from Example Ltd</button>`},
		{name: "unsubscribe page", method: "HEAD", target: unsubscribeLink, wantStatus: 200},
		{name: "confirmed", method: "POST", target: confirmLink, ctype: form, body: "confirm=yes", wantStatus: 200, wantText: "you are subscribed"},
		{name: "confirm page after confirming", method: "GET", target: confirmLink, wantStatus: 200, wantText: "you are subscribed"},
		{name: "withdrawal link sent", method: "POST", target: fixed("/withdraw"), ctype: form, body: "email=ann%40example.com", wantStatus: 200, wantText: "we have sent it a link to unsubscribe"},
		{name: "data request sent", method: "POST", target: fixed("/privacy"), ctype: form, body: "email=ann%40example.com&request=export", wantStatus: 200, wantText: "If we hold data for that address"},
		{name: "data request link page", method: "GET", target: privacyLinkTarget, before: lastPrivacyLink, wantStatus: 200, wantText: "Show my data"},
		{name: "your data", method: "POST", target: privacyLinkTarget, ctype: form, body: "confirm=yes", wantStatus: 200, wantText: "Download as JSON"},
		{name: "unsubscribed", method: "POST", target: unsubscribeLink, ctype: form, body: "confirm=yes", wantStatus: 200, wantText: "You are unsubscribed"},
		{name: "confirm page after unsubscribing", method: "GET", target: confirmLink, wantStatus: 200, wantText: "Nothing to confirm"},
		{name: "sign-up again", method: "POST", target: fixed("/signup"), ctype: form, body: signupForm, wantStatus: 303},
		{name: "expired confirm link", method: "GET", target: confirmLink, wantStatus: 200, wantText: "Email me a new link",
			before: func(e *env) { e.svc.Now = func() time.Time { return time.Now().Add(8 * 24 * time.Hour) } }},
		{name: "confirm link resent", method: "POST", target: resendLink, ctype: form, wantStatus: 200, wantText: "we have emailed you a new link"},
		{name: "erasure request sent", method: "POST", target: fixed("/privacy"), ctype: form, body: "email=ann%40example.com&request=erase", wantStatus: 200, wantText: "If we hold data for that address"},
		{name: "erasure link page", method: "GET", target: privacyLinkTarget, before: lastPrivacyLink, wantStatus: 200, wantText: "Delete my data"},
		{name: "data erased", method: "POST", target: privacyLinkTarget, ctype: form, body: "confirm=yes", wantStatus: 200, wantText: "Your data is deleted"},
		{name: "erasure link after erasing", method: "GET", target: privacyLinkTarget, wantStatus: 200, wantText: "We hold no data for this link"},
		{name: "expired data request link", method: "GET", target: privacyLinkTarget, wantStatus: 200, wantText: "This link has expired",
			before: func(e *env) { e.svc.Now = func() time.Time { return time.Now().Add(10 * 24 * time.Hour) } }},
		{name: "suppression list (admin only)", method: "GET", target: fixed("/admin/suppression"), wantStatus: 403, wantText: "Admin routes need the operator's credentials."},
		{name: "consent audit (admin only)", method: "GET", target: fixed("/admin/audit?from=2026-11-01"), wantStatus: 403, wantText: "Admin routes need the operator's credentials."},
		{name: "delivery jobs (admin only)", method: "GET", target: fixed("/admin/jobs?state=failed"), wantStatus: 403, wantText: "Admin routes need the operator's credentials."},
		{name: "record of processing (admin only)", method: "GET", target: fixed("/admin/records"), wantStatus: 403, wantText: "Admin routes need the operator's credentials."},
	}

	e := newEnv(t)
	landing := e.srv.Middleware(http.HandlerFunc(e.srv.LandingPage))
	nav := navigationTargets(e)
	links := &flowLinks{}
	visited := map[string]bool{}
	for i, st := range steps {
		if st.before != nil {
			st.before(e)
		}
		target := st.target(links)
		if target == "" {
			t.Fatalf("step %d (%s): no link yet", i, st.name)
		}
		var w *httptest.ResponseRecorder
		if st.landing {
			w = httptest.NewRecorder()
			landing.ServeHTTP(w, httptest.NewRequest(st.method, target, nil))
		} else {
			w = e.do(t, st.method, target, st.ctype, st.body, st.headers...)
		}
		visited[routePattern(st.method, target)] = true
		t.Run(fmt.Sprintf("%02d %s %s", i, st.method, st.name), func(t *testing.T) {
			if w.Code != st.wantStatus {
				t.Errorf("status: got %d, want %d", w.Code, st.wantStatus)
			}
			if !strings.Contains(w.Body.String(), st.wantText) {
				t.Errorf("body lacks %q, so the page did not render its real content:\n%s", st.wantText, w.Body)
			}
			for _, p := range responseHeaderProblems(w.Header()) {
				t.Errorf("header: %s", p)
			}
			if st.method == "HEAD" {
				return
			}
			for _, p := range pageLoadProblems(w.Body.String(), serviceOrigin, nav) {
				t.Errorf("page: %s", p)
			}
		})
		if w.Code == http.StatusSeeOther {
			// A sign-up: its freebie, the last mail, carries the links.
			sent := e.mailer.Sent()
			last := sent[len(sent)-1].Text
			links.confirm = linkIn(t, last, "/confirm")
			if links.unsubscribe == "" {
				links.unsubscribe = linkIn(t, last, "/unsubscribe")
			}
		}
	}

	// Every public GET (and HEAD) route must be among the pages checked, so
	// a new page cannot slip past this test.
	for _, rt := range web.Routes() {
		if rt.Method != "GET" && rt.Method != "HEAD" {
			continue
		}
		if !visited[rt.Method+" "+rt.Path] {
			t.Errorf("route %s %s: no step visits it; add one to TestPagesTrackNothing", rt.Method, rt.Path)
		}
	}
}

// routePattern is the "METHOD /path" of the route a request for target
// matches ("GET /forms/{magnet}" for /forms/x.js), or of target's path if
// none does.
func routePattern(method, target string) string {
	mux := http.NewServeMux()
	for _, rt := range web.Routes() {
		mux.HandleFunc(rt.Method+" "+rt.Path, func(http.ResponseWriter, *http.Request) {})
	}
	if _, pattern := mux.Handler(httptest.NewRequest(method, target, nil)); pattern != "" {
		return pattern
	}
	path, _, _ := strings.Cut(target, "?")
	return method + " " + path
}

// TestNoRouteSetsACookie sends an empty request to every route in the route
// table, every method: no answer may set a cookie or loosen the policy.
func TestNoRouteSetsACookie(t *testing.T) {
	e := newEnv(t)
	for _, rt := range web.Routes() {
		w := e.do(t, rt.Method, rt.Path, "", "")
		for _, p := range responseHeaderProblems(w.Header()) {
			t.Errorf("%s %s (status %d): %s", rt.Method, rt.Path, w.Code, p)
		}
	}
}

// navigationTargets are the URLs outside this service a page may link to
// with a plain <a href> (navigation, which loads nothing until the visitor
// clicks): each magnet's privacy policy, download, thank-you page and the
// sites allowed to embed its form (the refused-origin page links back).
func navigationTargets(e *env) map[string]bool {
	nav := map[string]bool{}
	for _, m := range e.svc.Catalog.All() {
		for _, u := range append([]string{m.PrivacyPolicyURL, m.DownloadURL, m.ThankYouURL}, m.AllowedOrigins...) {
			if u != "" {
				nav[u] = true
			}
		}
	}
	return nav
}

// linkIn returns the request URI of the first link to path in text.
func linkIn(t *testing.T, text, path string) string {
	t.Helper()
	i := strings.Index(text, serviceOrigin+path+"?t=")
	if i < 0 {
		t.Fatalf("no %s link in:\n%s", path, text)
	}
	return strings.TrimPrefix(strings.Fields(text[i:])[0], serviceOrigin)
}

// responseHeaderProblems lists what in h could track or let a page load
// from elsewhere: a cookie, reporting endpoints (beacons to another
// server), and a missing or loose Content-Security-Policy.
func responseHeaderProblems(h http.Header) []string {
	var problems []string
	for _, name := range []string{"Set-Cookie", "Set-Cookie2", "Report-To", "Reporting-Endpoints", "NEL"} {
		for _, v := range h.Values(name) {
			problems = append(problems, fmt.Sprintf("%s: %q, want none", name, v))
		}
	}
	csp := h.Values("Content-Security-Policy")
	if len(csp) != 1 {
		return append(problems, fmt.Sprintf("Content-Security-Policy: got %d headers %q, want 1", len(csp), csp))
	}
	return append(problems, cspProblems(csp[0])...)
}

// cspFetchDirectives are the CSP directives that control loading; any
// absent one falls back to default-src, which must be 'none'.
var cspFetchDirectives = []string{
	"script-src", "script-src-elem", "script-src-attr", "style-src", "style-src-elem", "style-src-attr",
	"img-src", "font-src", "connect-src", "frame-src", "child-src", "worker-src", "media-src",
	"object-src", "manifest-src", "prefetch-src", "fenced-frame-src",
}

// cspProblems lists what in policy lets a page load from, send to or be
// reported to anywhere but this service: default-src must be 'none'; fetch
// directives may allow only 'none' and 'self', plus 'unsafe-inline' for
// styles (the inline style sheet) and data: for images; form-action and
// base-uri only 'none' and 'self'; no report-uri or report-to.
func cspProblems(policy string) []string {
	var problems []string
	seen := map[string][]string{}
	for _, d := range strings.Split(policy, ";") {
		fields := strings.Fields(strings.ToLower(d))
		if len(fields) == 0 {
			continue
		}
		name, sources := fields[0], fields[1:]
		if _, dup := seen[name]; dup {
			problems = append(problems, fmt.Sprintf("CSP has %s twice (browsers ignore the second)", name))
			continue
		}
		seen[name] = sources
	}
	if got := seen["default-src"]; !slices.Equal(got, []string{"'none'"}) {
		problems = append(problems, fmt.Sprintf("CSP default-src: got %q, want ['none']", got))
	}
	allowed := func(directive string) []string {
		a := []string{"'none'", "'self'"}
		switch {
		case strings.HasPrefix(directive, "style-src"):
			a = append(a, "'unsafe-inline'")
		case directive == "img-src":
			a = append(a, "data:")
		}
		return a
	}
	for _, name := range append(slices.Clone(cspFetchDirectives), "form-action", "base-uri") {
		for _, src := range seen[name] {
			if !slices.Contains(allowed(name), src) {
				problems = append(problems, fmt.Sprintf("CSP %s allows %s, want only %s", name, src, strings.Join(allowed(name), " ")))
			}
		}
	}
	for _, name := range []string{"report-uri", "report-to"} {
		if v, ok := seen[name]; ok {
			problems = append(problems, fmt.Sprintf("CSP %s %q sends reports elsewhere", name, v))
		}
	}
	return problems
}

// loadAttributes are attributes whose URL the browser fetches by itself
// (href only on elements other than <a>, see pageLoadProblems).
var loadAttributes = []string{"src", "href", "poster", "data", "background", "action", "formaction", "manifest", "codebase", "xlink:href"}

// pageLoadProblems parses page as HTML and lists every URL it would load
// (or send to) that is not relative, on own (scheme://host) or a data: URI:
// src, href (other than <a>), poster, data, background, form action and
// formaction, srcset and imagesrcset candidates, and url() and @import in
// style sheets and style attributes. A plain <a href> is navigation and may
// also go to a URL in nav; ping (a click beacon) is never allowed.
func pageLoadProblems(page, own string, nav map[string]bool) []string {
	doc, err := html.Parse(strings.NewReader(page))
	if err != nil {
		return []string{fmt.Sprintf("parse HTML: %v", err)}
	}
	var problems []string
	report := func(n *html.Node, attr, u string) {
		problems = append(problems, fmt.Sprintf("<%s %s=%q> loads from elsewhere, want relative, %s or data:", n.Data, attr, u, own))
	}
	for n := range doc.Descendants() {
		if n.Type != html.ElementNode {
			continue
		}
		if n.Data == "style" {
			for _, u := range cssURLs(textOf(n)) {
				if !ownOrData(u, own) {
					problems = append(problems, fmt.Sprintf("<style> url(%q) loads from elsewhere", u))
				}
			}
		}
		for _, a := range n.Attr {
			key := strings.ToLower(a.Key)
			if a.Namespace != "" {
				key = a.Namespace + ":" + key
			}
			switch {
			case key == "ping":
				problems = append(problems, fmt.Sprintf("<%s ping=%q> sends a beacon on click", n.Data, a.Val))
			case key == "href" && n.Data == "a":
				if !ownOrData(a.Val, own) && !nav[strings.TrimSpace(a.Val)] {
					problems = append(problems, fmt.Sprintf("<a href=%q> goes neither to %s nor to a configured magnet URL", a.Val, own))
				}
			case slices.Contains(loadAttributes, key):
				if !ownOrData(a.Val, own) {
					report(n, key, a.Val)
				}
			case key == "srcset" || key == "imagesrcset":
				for _, u := range srcsetURLs(a.Val) {
					if !ownOrData(u, own) {
						report(n, key, u)
					}
				}
			case key == "style":
				for _, u := range cssURLs(a.Val) {
					if !ownOrData(u, own) {
						problems = append(problems, fmt.Sprintf("<%s style> url(%q) loads from elsewhere", n.Data, u))
					}
				}
			}
		}
	}
	return problems
}

func textOf(n *html.Node) string {
	var b strings.Builder
	for c := range n.Descendants() {
		if c.Type == html.TextNode {
			b.WriteString(c.Data)
		}
	}
	return b.String()
}

// srcsetURLs are the URLs of a srcset: comma-separated candidates, each a
// URL and an optional descriptor.
func srcsetURLs(srcset string) []string {
	var urls []string
	for _, c := range strings.Split(srcset, ",") {
		if f := strings.Fields(c); len(f) > 0 {
			urls = append(urls, f[0])
		}
	}
	return urls
}

var (
	cssURL    = regexp.MustCompile(`(?i)url\(\s*(?:"([^"]*)"|'([^']*)'|([^)'"\s]*))\s*\)`)
	cssImport = regexp.MustCompile(`(?i)@import\s+(?:"([^"]*)"|'([^']*)')`)
)

// cssURLs are the url() and @import URLs in a style sheet or style attribute.
func cssURLs(css string) []string {
	var urls []string
	for _, re := range []*regexp.Regexp{cssURL, cssImport} {
		for _, m := range re.FindAllStringSubmatch(css, -1) {
			urls = append(urls, strings.Join(m[1:], ""))
		}
	}
	return urls
}

// ownOrData reports whether raw is relative, on origin own or a data: URI,
// read as a browser would: surrounding spaces and tabs or newlines inside
// are dropped and a backslash counts as a slash (so "/\evil.example" is
// another host). A URL that does not parse is not own.
func ownOrData(raw, own string) bool {
	s := strings.Map(func(r rune) rune {
		switch r {
		case '\t', '\n', '\r':
			return -1
		case '\\':
			return '/'
		}
		return r
	}, strings.TrimSpace(raw))
	u, err := url.Parse(s)
	if err != nil {
		return false
	}
	switch {
	case u.Scheme == "" && u.Host == "":
		return true
	case strings.EqualFold(u.Scheme, "data"):
		return true
	}
	return strings.EqualFold(u.Scheme+"://"+u.Host, own)
}

// TestPageLoadProblems proves the page check finds what it looks for.
func TestPageLoadProblems(t *testing.T) {
	nav := map[string]bool{"https://example.com/privacy": true}
	tests := []struct {
		name string
		page string
		want string // a substring of the one problem expected; "" for none
	}{
		{"clean page", `<html><head><style>body{color:red}</style></head><body>
			<form method="post" action="https://signup.example.com/confirm?t=x"><button formaction="/withdraw">x</button></form>
			<img src="/logo.png" srcset="/a.png 1x, data:image/png;base64,AA 2x"><a href="https://example.com/privacy">Privacy</a>
			<a href="/withdraw">Stop</a><img src="data:image/gif;base64,R0lG" style="background:url(/x.png)"></body></html>`, ""},
		{"remote img", `<img src="https://pixel.tracker.example/p.gif">`, `<img src="https://pixel.tracker.example/p.gif">`},
		{"protocol-relative img", `<img src="//tracker.example/p.gif">`, `<img src="//tracker.example/p.gif">`},
		{"backslash host", `<img src="/\tracker.example/p.gif">`, `tracker.example`},
		{"remote script", `<script src="https://www.googletagmanager.com/gtag/js"></script>`, `<script src=`},
		{"remote stylesheet", `<link rel="stylesheet" href="https://fonts.googleapis.com/css">`, `<link href=`},
		{"preconnect", `<link rel="preconnect" href="https://fonts.gstatic.com">`, `<link href="https://fonts.gstatic.com">`},
		{"dns-prefetch", `<link rel="dns-prefetch" href="//cdn.example">`, `<link href="//cdn.example">`},
		{"iframe", `<iframe src="https://www.youtube.com/embed/x"></iframe>`, `<iframe src=`},
		{"srcset", `<img src="/a.png" srcset="/a.png 1x, https://cdn.example/b.png 2x">`, `<img srcset="https://cdn.example/b.png">`},
		{"picture source", `<picture><source srcset="https://cdn.example/a.webp"><img src="/a.png"></picture>`, `<source srcset=`},
		{"video poster", `<video poster="https://cdn.example/p.jpg"></video>`, `<video poster=`},
		{"object data", `<object data="https://cdn.example/x.swf"></object>`, `<object data=`},
		{"table background", `<table background="https://t.example/o.gif"></table>`, `<table background=`},
		{"form to elsewhere", `<form action="https://forms.example/collect"></form>`, `<form action=`},
		{"button formaction", `<form><button formaction="https://forms.example/x">x</button></form>`, `<button formaction=`},
		{"style sheet url", `<style>body{background:url("https://t.example/o.gif")}</style>`, `<style> url("https://t.example/o.gif")`},
		{"style import", `<style>@import 'https://fonts.googleapis.com/css';</style>`, `url("https://fonts.googleapis.com/css")`},
		{"style attribute", `<div style="background-image: url(https://t.example/o.gif)"></div>`, `<div style> url(`},
		{"svg image", `<svg><image href="https://t.example/o.svg"></image></svg>`, `<image href=`},
		{"link to an unknown site", `<a href="https://click.tracker.example/r?u=x">x</a>`, `<a href="https://click.tracker.example/r?u=x">`},
		{"ping beacon", `<a href="/withdraw" ping="https://t.example/ping">x</a>`, `ping=`},
		{"javascript link", `<a href="javascript:fetch('https://t.example')">x</a>`, `<a href="javascript:`},
		{"lookalike host", `<img src="https://signup.example.com.evil.example/p.gif">`, `evil.example`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := pageLoadProblems(tt.page, serviceOrigin, nav)
			switch {
			case tt.want == "" && len(got) != 0:
				t.Errorf("got %q, want no problems", got)
			case tt.want != "" && (len(got) != 1 || !strings.Contains(got[0], tt.want)):
				t.Errorf("got %q, want one problem containing %q", got, tt.want)
			}
		})
	}
}

// TestResponseHeaderProblems proves the header check finds what it looks for.
func TestResponseHeaderProblems(t *testing.T) {
	const good = "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
	tests := []struct {
		name    string
		headers http.Header
		want    string // a substring of the one problem expected; "" for none
	}{
		{"today's policy", http.Header{"Content-Security-Policy": {good}}, ""},
		{"self scripts", http.Header{"Content-Security-Policy": {good + "; script-src 'self'"}}, ""},
		{"cookie", http.Header{"Content-Security-Policy": {good}, "Set-Cookie": {"_ga=GA1.1.1; Path=/"}}, `Set-Cookie: "_ga=GA1.1.1; Path=/"`},
		{"reporting endpoint", http.Header{"Content-Security-Policy": {good}, "Nel": {`{"report_to":"x"}`}}, "NEL:"},
		{"no policy", http.Header{}, "got 0 headers"},
		{"default-src self", http.Header{"Content-Security-Policy": {strings.Replace(good, "default-src 'none'", "default-src 'self'", 1)}}, `default-src: got ["'self'"]`},
		{"no default-src", http.Header{"Content-Security-Policy": {"img-src 'self'"}}, "default-src: got []"},
		{"remote script", http.Header{"Content-Security-Policy": {good + "; script-src 'self' https://www.googletagmanager.com"}}, "script-src allows https://www.googletagmanager.com"},
		{"remote images", http.Header{"Content-Security-Policy": {strings.Replace(good, "img-src 'self' data:", "img-src 'self' data: https:", 1)}}, "img-src allows https:"},
		{"inline script", http.Header{"Content-Security-Policy": {good + "; script-src 'unsafe-inline'"}}, "script-src allows 'unsafe-inline'"},
		{"fonts from elsewhere", http.Header{"Content-Security-Policy": {good + "; font-src fonts.gstatic.com"}}, "font-src allows fonts.gstatic.com"},
		{"connect anywhere", http.Header{"Content-Security-Policy": {good + "; connect-src *"}}, "connect-src allows *"},
		{"frames", http.Header{"Content-Security-Policy": {good + "; frame-src https://www.youtube.com"}}, "frame-src allows"},
		{"form posts elsewhere", http.Header{"Content-Security-Policy": {strings.Replace(good, "form-action 'self'", "form-action 'self' https://forms.example", 1)}}, "form-action allows https://forms.example"},
		{"reports", http.Header{"Content-Security-Policy": {good + "; report-uri https://csp.example/r"}}, "report-uri"},
		{"directive twice", http.Header{"Content-Security-Policy": {"default-src 'none'; default-src *"}}, "default-src twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := responseHeaderProblems(tt.headers)
			switch {
			case tt.want == "" && len(got) != 0:
				t.Errorf("got %q, want no problems", got)
			case tt.want != "" && (len(got) != 1 || !strings.Contains(got[0], tt.want)):
				t.Errorf("got %q, want one problem containing %q", got, tt.want)
			}
		})
	}
}
