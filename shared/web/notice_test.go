package web_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/unbundled/unbundled/shared/consent"
	"github.com/unbundled/unbundled/shared/consent/consenttest"
)

func TestNoticePage(t *testing.T) {
	e := newEnv(t)
	w := e.do(t, "GET", "/notice?magnet=uk-gdpr-checklist", "", "")
	if w.Code != http.StatusOK {
		t.Fatalf("status: got %d, want 200", w.Code)
	}
	m, _ := e.svc.Catalog.Get("uk-gdpr-checklist")
	current := e.svc.CurrentNotice(t.Context(), m)
	body := w.Body.String()
	for _, want := range []string{
		"<title>Privacy notice: The UK GDPR Lead-Magnet Checklist</title>",
		"<h1>Privacy notice: The UK GDPR Lead-Magnet Checklist</h1>",
		"<h2>Who we are</h2>", "<h2>Your rights</h2>", "<h2>Complaints</h2>",
		"<li>your email address</li>",
		"https://signup.example.com/privacy",
		"0303 123 1113",
		"Notice version " + current.ID + " (in force now).",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %q:\n%s", want, body)
		}
	}
	if strings.Contains(body, "<script") || strings.Contains(body, "earlier version") {
		t.Errorf("the current notice has a script or says it is an earlier version:\n%s", body)
	}
	if n := strings.Count(body, "<h1>"); n != 1 {
		t.Errorf("%d <h1> elements, want 1", n)
	}
	// The current version named explicitly is the same page.
	if w2 := e.do(t, "GET", "/notice?magnet=uk-gdpr-checklist&version="+current.ID, "", ""); w2.Code != http.StatusOK || w2.Body.String() != body {
		t.Errorf("version=<current id>: got %d, want the current page", w2.Code)
	}
	if e.store.Writes() != 0 {
		t.Errorf("GET /notice wrote %d times, want none", e.store.Writes())
	}
}

func TestNoticePageShowsAnArchivedVersion(t *testing.T) {
	e := newEnv(t)
	signup := url.Values{"email": {"ann@example.com"}, "magnet": {"uk-gdpr-checklist"}, "marketing_consent": {"yes"}}.Encode()
	if w := e.do(t, "POST", "/signup", form, signup); w.Code != http.StatusSeeOther {
		t.Fatalf("sign-up: got %d", w.Code)
	}
	old := e.ledger(t, "ann@example.com")[0].NoticeVersion
	if !consent.IsNoticeID(old) {
		t.Fatalf("signup event names notice %q", old)
	}

	// The business changes the magnet and redeploys.
	m := consenttest.SampleMagnet(t)
	m.Frequency = "weekly"
	m.DPO = "Jane Doe, dpo@example.com"
	catalog := consenttest.CatalogOf(t, m)
	e.srv.Catalog, e.svc.Catalog = catalog, catalog

	w := e.do(t, "GET", "/notice?magnet=uk-gdpr-checklist&version="+old, "", "")
	if w.Code != http.StatusOK {
		t.Fatalf("archived version: got %d, want 200:\n%s", w.Code, w.Body)
	}
	body := w.Body.String()
	for _, want := range []string{
		"This is an earlier version of this privacy notice</strong>, first shown on " + time.Now().UTC().Format("2 January 2006"),
		`<a href="https://signup.example.com/notice?magnet=uk-gdpr-checklist">Read the notice in force now</a>`,
		"marketing email from Example Ltd (monthly)",
		"Notice version " + old + ".",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("archived page lacks %q:\n%s", want, body)
		}
	}
	if strings.Contains(body, "data protection officer") || strings.Contains(body, "in force now)") {
		t.Errorf("the archived page shows the new notice:\n%s", body)
	}
	for _, p := range pageLoadProblems(body, serviceOrigin, navigationTargets(e)) {
		t.Errorf("archived page: %s", p)
	}
	for _, p := range responseHeaderProblems(w.Header()) {
		t.Errorf("archived page header: %s", p)
	}
	if cur := e.do(t, "GET", "/notice?magnet=uk-gdpr-checklist", "", ""); !strings.Contains(cur.Body.String(), "Jane Doe, dpo@example.com") {
		t.Errorf("the current page does not show the changed magnet's notice")
	}

	wording := consent.NewWordingVersion(m).ID
	for _, target := range []string{
		"/notice?magnet=uk-gdpr-checklist&version=" + wording, // archived, but a consent wording
		"/notice?magnet=uk-gdpr-checklist&version=notice-ffffffffffffffffffffffffffffffff",
		"/notice?magnet=other&version=" + old,
	} {
		if w := e.do(t, "GET", target, "", ""); w.Code != http.StatusNotFound || !strings.Contains(w.Body.String(), "This privacy notice does not exist") {
			t.Errorf("GET %s: got %d, want the 404 page", target, w.Code)
		}
	}
	if w := e.do(t, "GET", "/notice", "", ""); w.Code != http.StatusBadRequest {
		t.Errorf("GET /notice without a magnet: got %d, want 400", w.Code)
	}
}

// TestNoticePageReadsAnyText: an archived notice is shown as blocks even
// if its text is not in today's format; markup in it stays text.
func TestNoticePageReadsAnyText(t *testing.T) {
	e := newEnv(t)
	text := "An old notice without a title.\nSecond line.\n\n- one\n- two <b>bold</b>\n\nHeading\n---\nBody & more"
	v := consent.WordingVersion{ID: "notice-0123456789abcdef0123456789abcdef", Wording: text, Controller: "Example Ltd"}
	if err := e.store.ArchiveWording(t.Context(), "uk-gdpr-checklist", v, time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)); err != nil {
		t.Fatal(err)
	}
	w := e.do(t, "GET", "/notice?magnet=uk-gdpr-checklist&version="+v.ID, "", "")
	body := w.Body.String()
	for _, want := range []string{
		"first shown on 1 March 2026",
		"<h1>Privacy notice</h1>",
		"<p style=\"white-space: pre-wrap\">An old notice without a title.\nSecond line.</p>",
		"<ul>\n<li>one</li>\n<li>two &lt;b&gt;bold&lt;/b&gt;</li>\n</ul>",
		"<h2>Heading</h2>",
		"Body &amp; more",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %q:\n%s", want, body)
		}
	}
}

func TestPagesLinkTheNotice(t *testing.T) {
	e := newEnv(t)
	m, _ := e.svc.Catalog.Get("uk-gdpr-checklist")
	short := e.svc.CurrentNotice(t.Context(), m).Short
	link := `<a href="https://signup.example.com/notice?magnet=uk-gdpr-checklist">Privacy notice</a>`
	thanks := e.do(t, "GET", "/thanks?magnet=uk-gdpr-checklist", "", "").Body.String()
	landing := httptestLanding(t, e)
	for name, page := range map[string]string{"thanks": thanks, "landing": landing} {
		if !strings.Contains(page, short) || !strings.Contains(page, link) {
			t.Errorf("%s page lacks the short notice %q or the link %s:\n%s", name, short, link, page)
		}
	}
	if page := e.do(t, "GET", "/thanks", "", "").Body.String(); strings.Contains(page, "Privacy notice") {
		t.Errorf("thanks page of no magnet links a notice")
	}
}

func httptestLanding(t *testing.T, e *env) string {
	t.Helper()
	w := httptest.NewRecorder()
	e.srv.Middleware(http.HandlerFunc(e.srv.LandingPage)).ServeHTTP(w, httptest.NewRequest("GET", "/", nil))
	if w.Code != http.StatusOK {
		t.Fatalf("landing page: %d", w.Code)
	}
	return w.Body.String()
}

func TestSignupRecordsThePageURL(t *testing.T) {
	long := "https://signup.example.com/" + strings.Repeat("a", 480)
	tests := []struct {
		name    string
		headers []string
		want    string
	}{
		{"referer without query or fragment", []string{"Origin", "http://127.0.0.1:8080", "Referer", "http://127.0.0.1:8080/landing/guide?email=ann%40example.com&t=secret#top"}, "http://127.0.0.1:8080/landing/guide"},
		{"referer keeps the path's escapes", []string{"Referer", "https://signup.example.com/caf%C3%A9/a%20b"}, "https://signup.example.com/caf%C3%A9/a%20b"},
		{"referer with user info", []string{"Referer", "https://ann:pw@signup.example.com/p"}, "https://signup.example.com/p"},
		{"origin only (a strict referrer policy)", []string{"Origin", "http://127.0.0.1:8080"}, "http://127.0.0.1:8080"},
		{"relative referer falls back to origin", []string{"Origin", "http://127.0.0.1:8080", "Referer", "/landing"}, "http://127.0.0.1:8080"},
		{"non-http referer falls back to origin", []string{"Origin", "http://127.0.0.1:8080", "Referer", "file:///home/ann/form.html"}, "http://127.0.0.1:8080"},
		{"referer with control characters: dropped, origin kept", []string{"Origin", "https://signup.example.com", "Referer", "https://signup.example.com/a\tb"}, "https://signup.example.com"},
		{"too long: dropped", []string{"Referer", long}, ""},
		{"just long enough", []string{"Referer", long[:500] + "?q=" + strings.Repeat("x", 100)}, long[:500]},
		{"neither header", nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			body := url.Values{"email": {"ann@example.com"}, "magnet": {"uk-gdpr-checklist"}}.Encode()
			w := e.do(t, "POST", "/signup", form, body, tt.headers...)
			if w.Code != http.StatusSeeOther {
				t.Fatalf("status: got %d, want 303 (a bad page URL never fails a sign-up):\n%s", w.Code, w.Body)
			}
			if got := e.ledger(t, "ann@example.com")[0].PageURL; got != tt.want {
				t.Errorf("page_url: got %q, want %q", got, tt.want)
			}
		})
	}
}
