// Package consenttest has hand-written test doubles for the consent ports.
package consenttest

import (
	"context"
	"fmt"
	"sync"

	"github.com/unbundled/unbundled/shared/consent"
)

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
