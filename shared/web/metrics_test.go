package web_test

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/unbundled/unbundled/shared/consent"
)

// countingMetrics is a consent.Metrics that adds up what it is told.
type countingMetrics struct {
	mu     sync.Mutex
	counts map[string]consent.Counts // by magnet
}

func (m *countingMetrics) Record(_ context.Context, _ time.Time, magnetID string, c consent.Counts) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.counts == nil {
		m.counts = map[string]consent.Counts{}
	}
	m.counts[magnetID] = m.counts[magnetID].Plus(c)
}

// Sign-up posts refused (429) or trapped as bots leave nothing in the
// ledger; the dashboard learns of them through the service's Metrics.
func TestSignupsRefusedOrTrappedAreCounted(t *testing.T) {
	e := newEnv(t)
	metrics := &countingMetrics{}
	e.svc.Metrics = metrics
	e.svc.Limits = consent.Limits{SignupsPerSource: 2, SourceWindow: time.Hour}
	const json = "application/json"
	for i, step := range []struct {
		contentType, body string
		want              int
	}{
		{json, `{"email":"ann@example.com","magnet":"uk-gdpr-checklist"}`, http.StatusAccepted},
		{form, "email=bot%40example.com&magnet=uk-gdpr-checklist&website=spam", http.StatusSeeOther}, // trapped
		{json, `{"email":"bob@example.com","magnet":"uk-gdpr-checklist"}`, http.StatusTooManyRequests},
		{form, "email=bot%40example.com&magnet=uk-gdpr-checklist&website=spam", http.StatusTooManyRequests}, // trapped and refused
		{form, "email=bot%40example.com&magnet=no-such-thing&website=spam", 0},                              // trapped, no such magnet (any answer)
		{json, `{"email":"not an address","magnet":"uk-gdpr-checklist"}`, http.StatusBadRequest},            // refused, but not for its source
	} {
		if w := e.do(t, "POST", "/signup", step.contentType, step.body); step.want != 0 && w.Code != step.want {
			t.Fatalf("post %d: got %d, want %d: %s", i+1, w.Code, step.want, w.Body)
		}
	}
	want := map[string]consent.Counts{
		"uk-gdpr-checklist": {Signups: 1, BotTrapped: 2, RateLimited: 2},
		consent.NoMagnet:    {BotTrapped: 1},
	}
	metrics.mu.Lock()
	defer metrics.mu.Unlock()
	for magnetID, c := range want {
		if got := metrics.counts[magnetID]; got != c {
			t.Errorf("%s: got %+v, want %+v", magnetID, got, c)
		}
	}
	if len(metrics.counts) != len(want) {
		t.Errorf("counts for %d magnets, want %d: %+v", len(metrics.counts), len(want), metrics.counts)
	}
}
