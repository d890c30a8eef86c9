package web

import (
	"bytes"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/unbundled/unbundled/shared/consent"
	"github.com/unbundled/unbundled/shared/magnet"
	"github.com/unbundled/unbundled/shared/token"
)

// Bot traps for the sign-up forms this service renders (the demo landing
// page; later the embeddable snippet).
//
// Each form carries a honeypot field, hidden from people (off-screen, hidden
// from screen readers, out of the tab order, labelled "leave this empty"),
// and a form stamp: a token signed with the link-token keyring saying which
// magnet the form is for and when it was rendered. A sign-up that fills the
// honeypot, arrives sooner after rendering than Server.FormMinAge, or carries
// a stamp that does not verify, has expired, or is for another magnet is
// answered exactly like a real sign-up, but nothing is stored or sent: a bot
// learns nothing. A sign-up without a stamp (a hand-written form, a JSON
// client) is not trapped.

const (
	honeypotField = "website"
	stampField    = "form_stamp"
	stampPurpose  = "form-stamp"
	// stampLifetime is how long a rendered form's stamp is accepted: long
	// enough for a visitor who leaves the tab open for days (a stale stamp
	// is silently dropped, so a short life would lose real sign-ups). The
	// stamp's expiry is its issue time plus stampLifetime, to the second.
	stampLifetime = 7 * 24 * time.Hour
)

// Reasons a sign-up is trapped, logged as "reason".
const (
	trapHoneypot = "honeypot"
	trapTooFast  = "too_fast"
	trapBadStamp = "bad_stamp"
)

// trapTemplate is the markup trapFields adds inside a <form>. The honeypot is
// hidden with an inline style so it stays hidden on pages with their own
// style sheets.
var trapTemplate = template.Must(template.New("trap").Parse(`<input type="hidden" name="` + stampField + `" value="{{.Stamp}}">
<div style="position:absolute;left:-10000px;top:auto;width:1px;height:1px;overflow:hidden" aria-hidden="true">
<label for="` + honeypotField + `-{{.ID}}">Leave this field empty</label>
<input type="text" id="` + honeypotField + `-{{.ID}}" name="` + honeypotField + `" value="" tabindex="-1" autocomplete="off">
</div>`))

// trapFields returns the stamp and honeypot fields for a form for magnetID,
// stamped now.
func (s *Server) trapFields(magnetID string) (template.HTML, error) {
	var buf bytes.Buffer
	data := struct{ ID, Stamp string }{magnetID, s.formStamp(magnetID)}
	if err := trapTemplate.Execute(&buf, data); err != nil {
		return "", fmt.Errorf("render form trap: %w", err)
	}
	return template.HTML(buf.String()), nil // escaped by trapTemplate
}

// formStamp returns a stamp for a form for magnetID rendered now.
func (s *Server) formStamp(magnetID string) string {
	return s.Service.Keys.Signing.Sign(token.Claims{
		Purpose: stampPurpose, Scope: magnetID, Expires: s.Service.Now().Add(stampLifetime),
	})
}

// trapReason reports why sign-up f must be dropped, or "" if it is to be
// handled.
func (s *Server) trapReason(f signupForm) string {
	if f.Honeypot != "" {
		return trapHoneypot
	}
	if f.Stamp == "" {
		return ""
	}
	now := s.Service.Now()
	c, err := s.Service.Keys.Signing.Verify(stampPurpose, f.Stamp, now)
	if err != nil || c.Expires.IsZero() || c.Scope != strings.TrimSpace(f.Magnet) {
		return trapBadStamp
	}
	if age := now.Sub(c.Expires.Add(-stampLifetime)); s.FormMinAge > 0 && age < s.FormMinAge {
		return trapTooFast
	}
	return ""
}

// logTrapped logs a dropped sign-up: why and for which magnet, nothing the
// visitor sent.
func (s *Server) logTrapped(r *http.Request, reason string, m magnet.Magnet, known bool) {
	s.logger().LogAttrs(r.Context(), slog.LevelInfo, "signup trapped",
		slog.String("metric", "signup_trapped"), slog.String("reason", reason),
		slog.String("magnet", magnetLabel(m, known)), slog.String("request_id", RequestID(r.Context())))
	s.Service.RecordCounts(r.Context(), magnetLabel(m, known), consent.Counts{BotTrapped: 1})
}
