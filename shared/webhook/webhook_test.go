package webhook_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/unbundled/unbundled/shared/consent"
	"github.com/unbundled/unbundled/shared/webhook"
)

var secret = []byte(strings.Repeat("s", 32))

func TestNotifySignsAndClassifiesAnswers(t *testing.T) {
	tests := []struct {
		status       int
		wantErr      bool
		wantRejected bool
	}{
		{200, false, false}, {204, false, false},
		{400, true, true}, {404, true, true}, {410, true, true},
		{408, true, false}, {429, true, false}, {500, true, false}, {503, true, false},
	}
	for _, tt := range tests {
		t.Run(http.StatusText(tt.status), func(t *testing.T) {
			var (
				mu  sync.Mutex
				got *http.Request
				raw []byte
			)
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				defer mu.Unlock()
				got, raw = r, must(io.ReadAll(r.Body))
				w.WriteHeader(tt.status)
			}))
			defer srv.Close()
			c, err := webhook.New(srv.URL, secret, nil)
			if err != nil {
				t.Fatal(err)
			}
			n := consent.Notification{ID: "evt-1", Type: consent.EventWithdrawn, Email: "ann@example.com", Purpose: "marketing:acme", Method: "one-click", At: time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)}
			err = c.Notify(context.Background(), n)
			if (err != nil) != tt.wantErr || errors.Is(err, consent.ErrRejected) != tt.wantRejected {
				t.Errorf("Notify: got %v, want error %v (rejected %v)", err, tt.wantErr, tt.wantRejected)
			}
			mu.Lock()
			defer mu.Unlock()
			if got.Header.Get("Webhook-Id") != "evt-1" || got.Header.Get("Content-Type") != "application/json" {
				t.Errorf("headers: %v", got.Header)
			}
			if err := webhook.Verify(secret, got.Header.Get("Webhook-Id"), got.Header.Get("Webhook-Timestamp"), got.Header.Get("Webhook-Signature"), raw, time.Now(), 5*time.Minute); err != nil {
				t.Errorf("the receiver cannot verify the delivery: %v", err)
			}
			if want := `{"id":"evt-1","type":"withdrawn","email":"ann@example.com","purpose":"marketing:acme","method":"one-click","at":"2026-11-02T09:00:00Z"}`; string(raw) != want {
				t.Errorf("body: got %s, want %s", raw, want)
			}
		})
	}
}

func TestVerifyRefuses(t *testing.T) {
	body := []byte(`{"id":"e"}`)
	now := time.Unix(1_800_000_000, 0)
	ts := "1800000000"
	good := "v1," + webhook.Sign(secret, "e", ts, body)
	for name, c := range map[string]struct {
		id, ts, sig string
		body        []byte
		secret      []byte
	}{
		"altered body":  {"e", ts, good, []byte(`{"id":"f"}`), secret},
		"other id":      {"f", ts, good, body, secret},
		"other secret":  {"e", ts, good, body, []byte(strings.Repeat("t", 32))},
		"old timestamp": {"e", "1799990000", "v1," + webhook.Sign(secret, "e", "1799990000", body), body, secret},
		"no version":    {"e", ts, strings.TrimPrefix(good, "v1,"), body, secret},
		"bad timestamp": {"e", "soon", good, body, secret},
	} {
		if err := webhook.Verify(c.secret, c.id, c.ts, c.sig, c.body, now, 5*time.Minute); !errors.Is(err, webhook.ErrBadSignature) {
			t.Errorf("%s: got %v, want ErrBadSignature", name, err)
		}
	}
	if err := webhook.Verify(secret, "e", ts, good, body, now, 5*time.Minute); err != nil {
		t.Errorf("a good delivery: %v", err)
	}
}

func TestNewRefusesUnsafeSettings(t *testing.T) {
	for _, tc := range []struct {
		url    string
		secret []byte
	}{
		{"http://hooks.example.com/x", secret}, // plain http off the machine
		{"ftp://hooks.example.com/x", secret},
		{"/relative", secret},
		{"https://hooks.example.com/x", []byte("short")},
	} {
		if _, err := webhook.New(tc.url, tc.secret, nil); err == nil {
			t.Errorf("New(%q, %d-byte secret): got nil error", tc.url, len(tc.secret))
		}
	}
	if _, err := webhook.New("http://127.0.0.1:9000/hook", secret, nil); err != nil {
		t.Errorf("loopback http: %v", err)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
