package web_test

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/unbundled/unbundled/shared/consent"
	"github.com/unbundled/unbundled/shared/consent/consenttest"
	"github.com/unbundled/unbundled/shared/consent/consenttest/memstore"
	"github.com/unbundled/unbundled/shared/web"
)

type env struct {
	h      http.Handler
	srv    *web.Server
	store  *memstore.Store
	mailer *consenttest.Mailer
	svc    *consent.Service
	logs   *bytes.Buffer // JSON log lines
}

// newEnv returns a server on an in-memory store with the sample catalog;
// options change the Server before its handler is built.
func newEnv(t *testing.T, options ...func(*web.Server)) *env {
	t.Helper()
	e := &env{store: memstore.New(), mailer: &consenttest.Mailer{}, logs: &bytes.Buffer{}}
	e.svc = consenttest.Service(t, e.store, time.Now)
	consenttest.DeliverAtOnce(t, e.svc, e.store, e.mailer)
	catalog := e.svc.Catalog
	e.srv = &web.Server{Service: e.svc, Catalog: catalog, Logger: slog.New(slog.NewJSONHandler(e.logs, nil))}
	for _, o := range options {
		o(e.srv)
	}
	e.h = e.srv.Handler("")
	return e
}

func (e *env) do(t *testing.T, method, target, contentType, body string, headers ...string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(method, target, strings.NewReader(body))
	if contentType != "" {
		r.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		r.Header.Set(headers[i], headers[i+1])
	}
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, r)
	return w
}

const form = "application/x-www-form-urlencoded"

func (e *env) ledger(t *testing.T, email string) []consent.Event {
	t.Helper()
	events, err := e.svc.LedgerFor(t.Context(), email)
	if err != nil {
		t.Fatal(err)
	}
	return events
}

func TestSignupFormRedirectsAndRecordsConsent(t *testing.T) {
	tests := []struct {
		value       string
		wantGranted bool
	}{
		{"yes", true}, {"on", true}, {"true", true}, {"", false}, {"no", false}, {"YES please", false}, {"1", false},
	}
	for _, tt := range tests {
		t.Run("marketing_consent="+tt.value, func(t *testing.T) {
			e := newEnv(t)
			body := url.Values{"email": {"ann@example.com"}, "magnet": {"uk-gdpr-checklist"}}
			if tt.value != "" {
				body.Set("marketing_consent", tt.value)
			}
			w := e.do(t, "POST", "/signup", form, body.Encode())
			if w.Code != http.StatusSeeOther {
				t.Fatalf("status: got %d, want 303", w.Code)
			}
			want := "https://signup.example.com/thanks?magnet=uk-gdpr-checklist"
			if tt.wantGranted {
				want += "&confirm=1" // a box ticked on a double opt-in magnet
			}
			if got := w.Header().Get("Location"); got != want {
				t.Errorf("Location: got %q, want %q", got, want)
			}
			granted := consent.MarketingStatus(e.ledger(t, "ann@example.com"), consenttest.SamplePurpose).Consented()
			if granted != tt.wantGranted {
				t.Errorf("granted: got %v, want %v", granted, tt.wantGranted)
			}
			if got := len(e.mailer.Sent()); got != 1 {
				t.Errorf("freebies sent: got %d, want 1", got)
			}
		})
	}
}

func TestSignupJSON(t *testing.T) {
	e := newEnv(t)
	w := e.do(t, "POST", "/signup", "application/json", `{"email":"ann@example.com","magnet":"uk-gdpr-checklist","marketing_consent":true}`)
	if w.Code != http.StatusAccepted || strings.TrimSpace(w.Body.String()) != `{"status":"accepted"}` {
		t.Fatalf("got %d %s, want 202 {\"status\":\"accepted\"}", w.Code, w.Body)
	}
	if got := consent.MarketingStatus(e.ledger(t, "ann@example.com"), consenttest.SamplePurpose); !got.Consented() {
		t.Errorf("status: got %+v, want granted", got)
	}
}

func TestSignupBadInputStoresNothing(t *testing.T) {
	tests := []struct {
		name, contentType, body string
		wantStatus              int
		wantField               string
	}{
		{"json bad email", "application/json", `{"email":"nope","magnet":"uk-gdpr-checklist"}`, 400, "email"},
		{"json unknown magnet", "application/json", `{"email":"a@example.com","magnet":"x"}`, 400, "magnet"},
		{"json malformed", "application/json", `{"email":`, 400, "body"},
		{"form missing email", form, "magnet=uk-gdpr-checklist", 400, "email"},
		{"form missing magnet", form, "email=a%40example.com", 400, "magnet"},
		{"unsupported type", "text/plain", "hello", 400, "body"},
		{"huge body", "application/json", `{"email":"` + strings.Repeat("a", 20000) + `"}`, 413, "body"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			w := e.do(t, "POST", "/signup", tt.contentType, tt.body)
			if w.Code != tt.wantStatus {
				t.Fatalf("status: got %d, want %d (%s)", w.Code, tt.wantStatus, w.Body)
			}
			if tt.contentType == "application/json" {
				var got struct{ Errors map[string]string }
				if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil || got.Errors[tt.wantField] == "" {
					t.Errorf("body %s: want errors.%s", w.Body, tt.wantField)
				}
			} else if !strings.Contains(w.Body.String(), tt.wantField) {
				t.Errorf("page does not mention %s: %s", tt.wantField, w.Body)
			}
			if e.store.Writes() != 0 || len(e.mailer.Sent()) != 0 {
				t.Errorf("bad input: %d writes, %d mails; want none", e.store.Writes(), len(e.mailer.Sent()))
			}
		})
	}
}

func TestSignupOrigin(t *testing.T) {
	body := `{"email":"ann@example.com","magnet":"uk-gdpr-checklist"}`
	tests := []struct {
		origin     string
		wantStatus int
		wantCORS   bool
	}{
		{"http://127.0.0.1:8080", 202, true},
		{"https://signup.example.com", 202, false},
		{"https://evil.example", 403, false},
		{"", 202, false},
	}
	for _, tt := range tests {
		e := newEnv(t)
		w := e.do(t, "POST", "/signup", "application/json", body, "Origin", tt.origin)
		if w.Code != tt.wantStatus {
			t.Errorf("origin %q: status %d, want %d", tt.origin, w.Code, tt.wantStatus)
		}
		if got := w.Header().Get("Access-Control-Allow-Origin") != ""; got != tt.wantCORS && tt.origin != "https://signup.example.com" {
			t.Errorf("origin %q: CORS header present=%v, want %v", tt.origin, got, tt.wantCORS)
		}
	}
	e := newEnv(t)
	w := e.do(t, "OPTIONS", "/signup", "", "", "Origin", "http://127.0.0.1:8080", "Access-Control-Request-Method", "POST")
	if w.Code != http.StatusNoContent || w.Header().Get("Access-Control-Allow-Origin") != "http://127.0.0.1:8080" {
		t.Errorf("preflight: got %d %v", w.Code, w.Header())
	}
	if e.store.Writes() != 0 {
		t.Errorf("preflight wrote")
	}
}

func unsubscribePath(t *testing.T, e *env) string {
	t.Helper()
	sent := e.mailer.Sent()
	v, _ := consenttest.Header(sent[len(sent)-1], "List-Unsubscribe")
	u, err := url.Parse(strings.Trim(v, "<>"))
	if err != nil || u.Path != "/unsubscribe" {
		t.Fatalf("List-Unsubscribe %q", v)
	}
	return u.RequestURI()
}

func TestUnsubscribeFlow(t *testing.T) {
	e := newEnv(t)
	e.do(t, "POST", "/signup", form, "email=ann%40example.com&magnet=uk-gdpr-checklist&marketing_consent=yes")
	path := unsubscribePath(t, e)
	writes := e.store.Writes()

	for _, method := range []string{"GET", "HEAD"} {
		w := e.do(t, method, path, "", "")
		if w.Code != http.StatusOK {
			t.Errorf("%s: status %d, want 200", method, w.Code)
		}
		if method == "GET" && !strings.Contains(w.Body.String(), `<button type="submit">Stop all marketing from Example Ltd</button>`) {
			t.Errorf("GET page has no button")
		}
		if method == "HEAD" && w.Body.Len() != 0 {
			t.Errorf("HEAD returned a body")
		}
	}
	if e.store.Writes() != writes {
		t.Fatalf("GET/HEAD wrote to the store")
	}
	if w := e.do(t, "POST", path, form, ""); w.Code != http.StatusBadRequest {
		t.Errorf("POST with empty body: status %d, want 400", w.Code)
	}
	if w := e.do(t, "POST", path, form, "List-Unsubscribe=Yes"); w.Code != http.StatusBadRequest {
		t.Errorf("POST List-Unsubscribe=Yes: status %d, want 400", w.Code)
	}
	for i := range 3 {
		w := e.do(t, "POST", path, form, "List-Unsubscribe=One-Click")
		if w.Code != http.StatusOK || w.Header().Get("Location") != "" {
			t.Fatalf("one-click POST #%d: status %d, want 200 without redirect", i+1, w.Code)
		}
	}
	events := e.ledger(t, "ann@example.com")
	if got := events[len(events)-1]; got.Type != consent.EventWithdrawn || got.Method != consent.MethodOneClick {
		t.Errorf("last event: got %s via %s, want withdrawn via one-click", got.Type, got.Method)
	}
	if len(events) != 3 {
		t.Errorf("ledger has %d events, want 3 (replays add nothing)", len(events))
	}
}

func TestUnsubscribeMultipartOneClick(t *testing.T) {
	e := newEnv(t)
	e.do(t, "POST", "/signup", form, "email=ann%40example.com&magnet=uk-gdpr-checklist&marketing_consent=on")
	body := "--XX\r\nContent-Disposition: form-data; name=\"List-Unsubscribe\"\r\n\r\nOne-Click\r\n--XX--\r\n"
	w := e.do(t, "POST", unsubscribePath(t, e), "multipart/form-data; boundary=XX", body)
	if w.Code != http.StatusOK {
		t.Fatalf("status %d, want 200", w.Code)
	}
	if st := consent.MarketingStatus(e.ledger(t, "ann@example.com"), consenttest.SamplePurpose); st.Consented() {
		t.Errorf("still granted after multipart one-click")
	}
}

func TestUnsubscribeBadTokenGeneric400(t *testing.T) {
	e := newEnv(t)
	for _, target := range []string{"/unsubscribe", "/unsubscribe?t=garbage", "/unsubscribe?t=k1.YQ.YQ"} {
		for _, method := range []string{"GET", "POST"} {
			w := e.do(t, method, target, form, "List-Unsubscribe=One-Click")
			if w.Code != http.StatusBadRequest || !strings.Contains(w.Body.String(), "This link does not work") {
				t.Errorf("%s %s: got %d, want the generic 400 page", method, target, w.Code)
			}
		}
	}
	if e.store.Writes() != 0 {
		t.Errorf("bad tokens wrote to the store")
	}
}

func TestEveryRouteHasAHandler(t *testing.T) {
	e := newEnv(t)
	for _, rt := range web.Routes() {
		w := e.do(t, rt.Method, rt.Path, "", "")
		if w.Code == http.StatusNotFound || w.Code == http.StatusMethodNotAllowed {
			t.Errorf("%s %s: status %d", rt.Method, rt.Path, w.Code)
		}
	}
}

func TestHandlerServesOnlyItsFunction(t *testing.T) {
	e := newEnv(t)
	srv := &web.Server{Service: e.svc, Catalog: e.svc.Catalog, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	for _, fn := range []string{web.SignupFunction, web.UnsubscribeFunction, web.ConfirmFunction} {
		h := srv.Handler(fn)
		for _, rt := range web.Routes() {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, httptest.NewRequest(rt.Method, rt.Path, nil))
			served := w.Code != http.StatusNotFound && w.Code != http.StatusMethodNotAllowed
			if want := rt.Function == fn; served != want {
				t.Errorf("%s serving %s %s (of %s): got status %d, want served=%v", fn, rt.Method, rt.Path, rt.Function, w.Code, want)
			}
		}
	}
}

func TestHandlerPanicsForAnUnknownFunction(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("Handler(\"NoSuchFunction\") did not panic")
		}
	}()
	(&web.Server{}).Handler("NoSuchFunction")
}

func TestSecurityHeaders(t *testing.T) {
	e := newEnv(t)
	w := e.do(t, "GET", "/thanks?magnet=uk-gdpr-checklist", "", "")
	for _, h := range []string{"Content-Security-Policy", "Referrer-Policy", "X-Content-Type-Options"} {
		if w.Header().Get(h) == "" {
			t.Errorf("missing %s", h)
		}
	}
}

func TestScannerMethodsWriteNothing(t *testing.T) {
	e := newEnv(t)
	e.do(t, "POST", "/signup", form, "email=jane%40example.com&magnet=uk-gdpr-checklist&marketing_consent=yes")
	path := unsubscribePath(t, e)
	writes := e.store.Writes()
	for _, method := range []string{"GET", "HEAD", "OPTIONS"} {
		for range 3 {
			if w := e.do(t, method, path, "", ""); w.Code >= 400 {
				t.Errorf("%s: status %d", method, w.Code)
			}
		}
	}
	if got := e.store.Writes() - writes; got != 0 {
		t.Errorf("GET/HEAD/OPTIONS made %d store writes, want 0", got)
	}
	w := e.do(t, "GET", path, "", "")
	if body := w.Body.String(); !strings.Contains(body, "j•••@e•••.com") || strings.Contains(body, "jane@example.com") {
		t.Errorf("unsubscribe page should show the masked address only")
	}
}

func TestWithdrawPageAnswersAlike(t *testing.T) {
	e := newEnv(t)
	e.do(t, "POST", "/signup", form, "email=ann%40example.com&magnet=uk-gdpr-checklist&marketing_consent=yes")
	if w := e.do(t, "GET", "/withdraw", "", ""); w.Code != 200 || !strings.Contains(w.Body.String(), `name="email"`) {
		t.Fatalf("GET /withdraw: %d", w.Code)
	}
	known := e.do(t, "POST", "/withdraw", form, "email=ann%40example.com")
	unknown := e.do(t, "POST", "/withdraw", form, "email=nobody%40example.com")
	repeated := e.do(t, "POST", "/withdraw", form, "email=ann%40example.com")
	if known.Code != 200 || known.Body.String() != unknown.Body.String() || known.Body.String() != repeated.Body.String() {
		t.Errorf("responses differ: known %d, unknown %d, repeated %d", known.Code, unknown.Code, repeated.Code)
	}
	if w := e.do(t, "POST", "/withdraw", form, "email=nope"); w.Code != 400 {
		t.Errorf("invalid address: %d, want 400", w.Code)
	}
	if got := len(e.mailer.Sent()); got != 2 {
		t.Errorf("mails: got %d, want 2 (freebie + one withdrawal link)", got)
	}
}

func confirmPath(t *testing.T, e *env) string {
	t.Helper()
	text := e.mailer.Sent()[0].Text
	i := strings.Index(text, "https://signup.example.com/confirm?t=")
	if i < 0 {
		t.Fatalf("no confirm link in the freebie")
	}
	return strings.TrimPrefix(strings.Fields(text[i:])[0], "https://signup.example.com")
}

func TestConfirmLink(t *testing.T) {
	e := newEnv(t)
	e.do(t, "POST", "/signup", form, "email=ann%40example.com&magnet=uk-gdpr-checklist&marketing_consent=yes")
	path := confirmPath(t, e)
	writes := e.store.Writes()
	for _, method := range []string{"GET", "HEAD", "OPTIONS"} {
		if w := e.do(t, method, path, "", ""); w.Code >= 400 {
			t.Errorf("%s confirm: %d", method, w.Code)
		}
	}
	w := e.do(t, "GET", path, "", "")
	m, _ := e.svc.Catalog.Get("uk-gdpr-checklist")
	if !strings.Contains(w.Body.String(), m.ConsentWording) || !strings.Contains(w.Body.String(), `name="confirm" value="yes"`) {
		t.Errorf("confirm page lacks the wording or the button")
	}
	if got := e.store.Writes() - writes; got != 0 {
		t.Fatalf("GET/HEAD/OPTIONS on the confirm link made %d writes", got)
	}
	if w := e.do(t, "POST", path, form, ""); w.Code != 400 {
		t.Errorf("POST without the button field: %d, want 400", w.Code)
	}
	for i := range 2 {
		w := e.do(t, "POST", path, form, "confirm=yes")
		if w.Code != 200 || !strings.Contains(w.Body.String(), "you are subscribed") {
			t.Errorf("confirm POST #%d: %d", i+1, w.Code)
		}
	}
	if got := e.do(t, "GET", path, "", ""); !strings.Contains(got.Body.String(), "you are subscribed") {
		t.Errorf("GET after confirming should show success")
	}
	confirmed := 0
	for _, ev := range e.ledger(t, "ann@example.com") {
		if ev.Type == consent.EventConfirmed {
			confirmed++
		}
	}
	if confirmed != 1 {
		t.Errorf("confirmed events: %d, want 1", confirmed)
	}
	if w := e.do(t, "GET", "/confirm?t=k1.bad.token", "", ""); w.Code != 400 {
		t.Errorf("bad confirm token: %d, want 400", w.Code)
	}
}

func TestExpiredConfirmLinkOffersResend(t *testing.T) {
	e := newEnv(t)
	e.do(t, "POST", "/signup", form, "email=ann%40example.com&magnet=uk-gdpr-checklist&marketing_consent=yes")
	path := confirmPath(t, e)
	e.svc.Now = func() time.Time { return time.Now().Add(8 * 24 * time.Hour) }
	w := e.do(t, "GET", path, "", "")
	if w.Code != 200 || !strings.Contains(w.Body.String(), "Email me a new link") {
		t.Fatalf("expired link page: %d", w.Code)
	}
	resend := strings.Replace(path, "/confirm?", "/confirm/resend?", 1)
	if w := e.do(t, "POST", resend, form, ""); w.Code != 200 {
		t.Fatalf("resend: %d", w.Code)
	}
	if got := len(e.mailer.Sent()); got != 2 {
		t.Errorf("mails after resend: %d, want 2", got)
	}
}

func TestSignupRefusesUnknownWordingVersion(t *testing.T) {
	e := newEnv(t)
	w := e.do(t, "POST", "/signup", form, "email=ann%40example.com&magnet=uk-gdpr-checklist&marketing_consent=yes&consent_version=wdeadbeef")
	if w.Code != 400 || !strings.Contains(w.Body.String(), "out of date") {
		t.Errorf("unknown version: %d", w.Code)
	}
	if e.store.Writes() != 0 || len(e.mailer.Sent()) != 0 {
		t.Errorf("unknown version stored or sent something")
	}
}

func TestIdempotencyKeyHeader(t *testing.T) {
	e := newEnv(t)
	body := `{"email":"ann@example.com","magnet":"uk-gdpr-checklist","marketing_consent":true}`
	for i := range 2 {
		w := e.do(t, "POST", "/signup", "application/json", body, "Idempotency-Key", "order-42")
		if w.Code != http.StatusAccepted || strings.TrimSpace(w.Body.String()) != `{"status":"accepted"}` {
			t.Fatalf("attempt %d: %d %s, want the same 202", i+1, w.Code, w.Body)
		}
	}
	w := e.do(t, "POST", "/signup", "application/json", strings.Replace(body, "true", "false", 1), "Idempotency-Key", "order-42")
	if w.Code != http.StatusUnprocessableEntity || !strings.Contains(w.Body.String(), "idempotency_key") {
		t.Errorf("same key, other payload: %d %s, want 422", w.Code, w.Body)
	}
	if got := len(e.ledger(t, "ann@example.com")); got != 2 {
		t.Errorf("ledger: %d events, want 2 (one sign-up)", got)
	}
	if got := len(e.mailer.Sent()); got != 1 {
		t.Errorf("freebies: %d, want 1", got)
	}
	if w := e.do(t, "POST", "/signup", "application/json", body, "Idempotency-Key", strings.Repeat("k", 300)); w.Code != 400 {
		t.Errorf("oversized key: %d, want 400", w.Code)
	}
}
