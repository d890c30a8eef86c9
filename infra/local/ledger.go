package main

import (
	"embed"
	"errors"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/unbundled/unbundled/shared/consent"
	"github.com/unbundled/unbundled/shared/magnet"
)

//go:embed templates/ledger.html
var ledgerFS embed.FS

var ledgerPage = template.Must(template.ParseFS(ledgerFS, "templates/ledger.html"))

// magnetStatus is one magnet's derived consent state for the ledger views.
type magnetStatus struct {
	Magnet   string        `json:"magnet"`
	State    consent.State `json:"state"`
	Eligible bool          `json:"eligible"`
	Since    *time.Time    `json:"since,omitempty"`
	Reason   string        `json:"reason"`
}

func statuses(catalog *magnet.Catalog, events []consent.Event) []magnetStatus {
	var out []magnetStatus
	for _, m := range catalog.All() {
		st := consent.MarketingStatus(events, m.PurposeID())
		ms := magnetStatus{Magnet: m.ID, State: st.State, Eligible: st.Eligible(), Reason: st.Reason}
		if !st.Since.IsZero() {
			ms.Since = &st.Since
		}
		out = append(out, ms)
	}
	return out
}

// ledgerHandler serves one person's ledger: ledger.json (the events, oldest
// first, with all recorded evidence), status.json (marketing eligibility
// per magnet with its reason, from the one domain rule), and an HTML page
// with both.
func ledgerHandler(service *consent.Service, catalog *magnet.Catalog, view string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		email := r.URL.Query().Get("email")
		if view == "html" && email == "" {
			renderLedger(w, map[string]any{})
			return
		}
		events, err := service.LedgerFor(r.Context(), email)
		var verr *consent.ValidationError
		switch {
		case errors.As(err, &verr) && view == "html":
			renderLedger(w, map[string]any{"Email": email, "Error": verr.Fields["email"]})
		case errors.As(err, &verr):
			writeJSON(w, http.StatusBadRequest, map[string]any{"errors": verr.Fields})
		case err != nil:
			slog.ErrorContext(r.Context(), "read ledger", "error", err.Error())
			writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "could not read the ledger"})
		case view == "status":
			writeJSON(w, http.StatusOK, statuses(catalog, events))
		case view == "html" && r.URL.Query().Get("view") == "developer":
			renderLedger(w, map[string]any{"Email": email, "Events": events, "Statuses": statuses(catalog, events),
				"Plain": "/_local/ledger?email=" + url.QueryEscape(email)})
		case view == "html":
			renderProof(w, r, service, email)
		default:
			if events == nil {
				events = []consent.Event{}
			}
			writeJSON(w, http.StatusOK, events)
		}
	})
}

// renderProof shows one person in plain language — the operator's proof
// report, readable on a phone — with a link to the developer view of
// every recorded field.
func renderProof(w http.ResponseWriter, r *http.Request, service *consent.Service, email string) {
	p, err := service.Proof(r.Context(), email)
	if err != nil {
		slog.ErrorContext(r.Context(), "build proof", "error", err.Error())
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "could not read the ledger"})
		return
	}
	q := url.QueryEscape(email)
	p.Nav = []consent.NavLink{
		{Label: "Developer view (every field)", URL: "/_local/ledger?view=developer&email=" + q},
		{Label: "Another person", URL: "/_local/ledger"},
		{Label: "Mailbox", URL: "/_local/mailbox"},
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if err := p.WriteHTML(w); err != nil {
		slog.ErrorContext(r.Context(), "render proof", "error", err.Error())
	}
}

func renderLedger(w http.ResponseWriter, data map[string]any) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if err := ledgerPage.Execute(w, data); err != nil {
		slog.Error("render ledger page", "error", err.Error())
	}
}
