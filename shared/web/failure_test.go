package web

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/unbundled/unbundled/shared/consent"
)

// testServer returns a Server without a service (fail and render need none)
// and the buffer its logger writes JSON lines to.
func testServer() (*Server, *bytes.Buffer) {
	var logs bytes.Buffer
	return &Server{Logger: slog.New(slog.NewJSONHandler(&logs, nil))}, &logs
}

func errorLines(logs *bytes.Buffer) []string {
	var lines []string
	for line := range strings.Lines(logs.String()) {
		if strings.Contains(line, `"level":"ERROR"`) {
			lines = append(lines, line)
		}
	}
	return lines
}

func TestFail(t *testing.T) {
	invalid := &consent.ValidationError{Fields: map[string]string{"email": "Enter a valid email address."}}
	unexpected := fmt.Errorf("put consent event: %w", errors.New("secret-internal-detail"))
	tests := []struct {
		name       string
		err        error
		json       bool
		wantStatus int
		wantBody   string
		wantLogged bool
	}{
		{"invalid input, page", invalid, false, 400, "Enter a valid email address.", false},
		{"invalid input, JSON", invalid, true, 400, `{"errors":{"email":"Enter a valid email address."}}`, false},
		{"body too large, page", &http.MaxBytesError{Limit: 1}, false, 413, "more than we accept", false},
		{"body too large, JSON", &http.MaxBytesError{Limit: 1}, true, 413, `{"errors":{"body":"The request is too large."}}`, false},
		{"origin not allowed, page", errOriginNotAllowed, false, 403, "Form not accepted", false},
		{"origin not allowed, JSON", errOriginNotAllowed, true, 403, `{"errors":{"origin":"This page may not post sign-ups for this download."}}`, false},
		{"bad token, page", fmt.Errorf("describe: %w", consent.ErrBadToken), false, 400, "This link does not work", false},
		{"unknown magnet, page", consent.ErrUnknownMagnet, false, 400, "This link does not work", false},
		{"bad link, JSON", errBadLink, true, 400, `{"error":"This link does not work."}`, false},
		{"idempotency key reused, page", consent.ErrIdempotencyMismatch, false, 422, "Idempotency-Key was used for a different request", false},
		{"idempotency key reused, JSON", consent.ErrIdempotencyMismatch, true, 422, `{"errors":{"idempotency_key":"This Idempotency-Key was used for a different request."}}`, false},
		{"still contended, page", fmt.Errorf("record sign-up secret-internal-detail: %w", consent.ErrConflict), false, 503, "Nothing was saved", true},
		{"still contended, JSON", fmt.Errorf("record sign-up secret-internal-detail: %w", consent.ErrConflict), true, 503, `{"error":"We are busy right now and nothing was saved. Please send it again in a moment."}`, true},
		{"unexpected, page", unexpected, false, 500, "Something went wrong", true},
		{"unexpected, JSON", unexpected, true, 500, `{"error":"Something went wrong. Please try again later."}`, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, logs := testServer()
			r := httptest.NewRequest("POST", "/signup", nil)
			wantType := "text/html; charset=utf-8"
			if tt.json {
				r.Header.Set("Content-Type", "application/json; charset=utf-8")
				wantType = "application/json"
			}
			w := httptest.NewRecorder()
			s.fail(w, r, tt.err)
			if w.Code != tt.wantStatus {
				t.Errorf("status: got %d, want %d", w.Code, tt.wantStatus)
			}
			if got := w.Header().Get("Content-Type"); got != wantType {
				t.Errorf("Content-Type: got %q, want %q", got, wantType)
			}
			body := w.Body.String()
			if !strings.Contains(body, tt.wantBody) {
				t.Errorf("body: got %s, want it to contain %s", body, tt.wantBody)
			}
			if strings.Contains(body, "secret-internal-detail") {
				t.Errorf("body shows the internal error: %s", body)
			}
			logged, wantLines := errorLines(logs), 0
			if tt.wantLogged {
				wantLines = 1
			}
			if len(logged) != wantLines || (tt.wantLogged && !strings.Contains(logged[0], "secret-internal-detail")) {
				t.Errorf("error log lines: got %q, want %d with the error", logged, wantLines)
			}
		})
	}
}

func TestFailHEADHasNoBody(t *testing.T) {
	s, _ := testServer()
	w := httptest.NewRecorder()
	s.fail(w, httptest.NewRequest("HEAD", "/unsubscribe?t=x", nil), consent.ErrBadToken)
	if w.Code != http.StatusBadRequest || w.Body.Len() != 0 {
		t.Errorf("got %d with %d body bytes, want 400 without a body", w.Code, w.Body.Len())
	}
}

// A page that cannot be rendered becomes the failure page, logged once.
func TestRenderFailureIsA500(t *testing.T) {
	tests := []struct {
		name, page string
		data       any
	}{
		{"data the template cannot use", "confirm", "not confirmData"},
		{"no such page", "no_such_page", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, logs := testServer()
			w := httptest.NewRecorder()
			s.render(w, httptest.NewRequest("GET", "/confirm", nil), http.StatusOK, tt.page, tt.data)
			if w.Code != http.StatusInternalServerError || !strings.Contains(w.Body.String(), "Something went wrong") {
				t.Errorf("got %d %s, want 500 and the failure page", w.Code, w.Body)
			}
			if logged := errorLines(logs); len(logged) != 1 || !strings.Contains(logged[0], tt.page) {
				t.Errorf("error log lines: got %q, want one naming page %s", logged, tt.page)
			}
		})
	}
}

func TestEveryTemplateIsAPage(t *testing.T) {
	files, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, f := range files {
		if name := strings.TrimSuffix(path.Base(f), ".html"); name != "layout" {
			want = append(want, name)
		}
	}
	var got []string
	for name := range pages {
		got = append(got, name)
	}
	slices.Sort(got)
	if len(want) < 2 || !slices.Equal(got, want) {
		t.Errorf("pages: got %q, want %q", got, want)
	}
}

func TestParsePagesPanicsOnABrokenTemplate(t *testing.T) {
	fsys := fstest.MapFS{
		"templates/layout.html": {Data: []byte(`{{define "layout"}}{{template "content" .}}{{end}}`)},
		"templates/good.html":   {Data: []byte(`{{define "content"}}ok{{end}}`)},
		"templates/broken.html": {Data: []byte(`{{define "content"}}{{if}}{{end}}`)},
	}
	defer func() {
		if recover() == nil {
			t.Error("parsePages accepted a template that does not parse")
		}
	}()
	parsePages(fsys)
}

func TestFailRateLimited(t *testing.T) {
	tests := []struct {
		name           string
		err            error
		json           bool
		wantRetryAfter string
		wantBody       string
	}{
		{"page", &consent.RateLimitError{RetryAfter: 4*time.Minute + 30*time.Second}, false, "270", "in about 5 minutes"},
		{"page, wrapped", fmt.Errorf("sign up: %w", &consent.RateLimitError{RetryAfter: time.Hour}), false, "3600", "in about an hour"},
		{"JSON", &consent.RateLimitError{RetryAfter: 5 * time.Minute}, true, "300", `{"error":"Too many requests. Please try again in about 5 minutes."}`},
		{"rounded up", &consent.RateLimitError{RetryAfter: 1500 * time.Millisecond}, true, "2", "in about a minute"},
		{"at least a second", &consent.RateLimitError{}, true, "1", "in about a minute"},
		{"negative", &consent.RateLimitError{RetryAfter: -time.Minute}, false, "1", "in about a minute"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, logs := testServer()
			r := httptest.NewRequest("POST", "/signup", nil)
			if tt.json {
				r.Header.Set("Content-Type", "application/json")
			}
			w := httptest.NewRecorder()
			s.fail(w, r, tt.err)
			if w.Code != http.StatusTooManyRequests {
				t.Errorf("status: got %d, want 429", w.Code)
			}
			if got := w.Header().Get("Retry-After"); got != tt.wantRetryAfter {
				t.Errorf("Retry-After: got %q, want %q", got, tt.wantRetryAfter)
			}
			if body := w.Body.String(); !strings.Contains(body, tt.wantBody) {
				t.Errorf("body: got %s, want it to contain %s", body, tt.wantBody)
			}
			if !tt.json && !strings.Contains(w.Body.String(), "on its way") {
				t.Errorf("page does not reassure that what was sent is on its way: %s", w.Body)
			}
			if got := errorLines(logs); len(got) != 0 {
				t.Errorf("error log lines: got %q, want none", got)
			}
		})
	}
}

func TestRetryIn(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want string
	}{
		{0, "in about a minute"},
		{30 * time.Second, "in about a minute"},
		{60 * time.Second, "in about a minute"},
		{61 * time.Second, "in about 2 minutes"},
		{5 * time.Minute, "in about 5 minutes"},
		{59 * time.Minute, "in about 59 minutes"},
		{time.Hour, "in about an hour"},
		{90 * time.Minute, "in about 2 hours"},
		{23 * time.Hour, "in about 23 hours"},
		{24 * time.Hour, "in about a day"},
		{50 * time.Hour, "in about 3 days"},
	}
	for _, tt := range tests {
		if got := retryIn(tt.d); got != tt.want {
			t.Errorf("retryIn(%v): got %q, want %q", tt.d, got, tt.want)
		}
	}
}
