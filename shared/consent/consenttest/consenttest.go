// Package consenttest has hand-written test doubles for the consent ports.
package consenttest

import (
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/unbundled/unbundled/shared/consent"
	"github.com/unbundled/unbundled/shared/magnet"
	"github.com/unbundled/unbundled/shared/token"
)

// SamplePurpose is the controller-wide marketing purpose of SampleCatalog's
// magnets.
const SamplePurpose = "marketing:example-ltd"

// SampleCatalog is the sample magnet catalog tests use.
//
//go:embed sample_magnets.json
var SampleCatalog []byte

// Mailer records every message sent. Set Err to make every Send fail, or
// Script to make the first calls fail in order (nil entries succeed).
type Mailer struct {
	mu     sync.Mutex
	sent   []consent.Message
	calls  int
	Err    error
	Script []error
}

// Send implements consent.Mailer.
func (m *Mailer) Send(_ context.Context, msg consent.Message) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.calls++
	if m.calls <= len(m.Script) && m.Script[m.calls-1] != nil {
		return "", m.Script[m.calls-1]
	}
	if m.Err != nil {
		return "", m.Err
	}
	m.sent = append(m.sent, msg)
	return fmt.Sprintf("msg-%d", len(m.sent)), nil
}

// Sent returns the messages sent so far.
func (m *Mailer) Sent() []consent.Message {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]consent.Message(nil), m.sent...)
}

// Header returns the value of the named header of msg, and whether it is set.
func Header(msg consent.Message, name string) (string, bool) {
	for _, h := range msg.Headers {
		if h.Name == name {
			return h.Value, true
		}
	}
	return "", false
}

// Calls counts Send calls, failed ones included.
func (m *Mailer) Calls() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.calls
}

// SampleMagnet returns the first magnet of SampleCatalog, to copy and edit.
func SampleMagnet(t testing.TB) magnet.Magnet {
	t.Helper()
	var file struct{ Magnets []magnet.Magnet }
	if err := json.Unmarshal(SampleCatalog, &file); err != nil {
		t.Fatal(err)
	}
	return file.Magnets[0]
}

// CatalogOf validates magnets as a catalog file would be, failing t if
// they are not valid.
func CatalogOf(t testing.TB, magnets ...magnet.Magnet) *magnet.Catalog {
	t.Helper()
	data, err := json.Marshal(map[string]any{"magnets": magnets})
	if err != nil {
		t.Fatal(err)
	}
	c, err := magnet.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// Service returns a service for tests on store: the sample magnet catalog
// (magnet/testdata/valid.json), fixed keys, links under
// https://signup.example.com, and the clock now.
func Service(t testing.TB, store consent.Store, now func() time.Time) *consent.Service {
	t.Helper()
	catalog, err := magnet.Parse(SampleCatalog)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := token.NewKeys([]byte(`{"active":"k1","k1":"`+strings.Repeat("k", 32)+`"}`), []byte(strings.Repeat("s", 32)))
	if err != nil {
		t.Fatal(err)
	}
	return &consent.Service{Catalog: catalog, Ledger: store, Wordings: store, Counters: store, Erasure: store, Scanner: store, Minimiser: store, Jobs: store, Keys: keys, BaseURL: "https://signup.example.com", Now: now}
}

// DeliverAtOnce makes svc deliver queued mail from jobs through mailer as
// soon as it is queued, so tests see the outbox's effect directly.
func DeliverAtOnce(t testing.TB, svc *consent.Service, jobs consent.JobQueue, mailer consent.Mailer) {
	d := &consent.Deliverer{Service: svc, Jobs: jobs, Mailer: mailer, Backoff: consent.Backoff{Attempts: 1}}
	svc.Kick = func() {
		if _, err := d.DeliverDue(context.Background(), 100); err != nil {
			t.Errorf("deliver: %v", err)
		}
	}
}

// UnsubscribeToken is the token of svc's unsubscribe link for subscriber
// and magnetID, as an email would carry it.
func UnsubscribeToken(svc *consent.Service, subscriber, magnetID string) string {
	u, err := url.Parse(svc.UnsubscribeURL(context.Background(), subscriber, magnetID))
	if err != nil {
		panic(err)
	}
	return u.Query().Get("t")
}
