package web

import (
	"encoding/json"
	"errors"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/unbundled/unbundled/shared/consent"
)

// Self-service data requests: GET/POST /privacy asks for a link by email;
// GET /privacy/confirm shows the link's page with a button and writes
// nothing (mail scanners open every link); POST /privacy/confirm shows the
// data (or downloads it as JSON) or erases it.

type privacyData struct {
	Action      string
	Errors      map[string]string
	Email       string
	Request     string
	WithdrawURL string
}

// privacyPage is the form: an address and what to do with its data.
func (s *Server) privacyPage(w http.ResponseWriter, r *http.Request) {
	s.render(w, r, http.StatusOK, "privacy", privacyData{Action: s.link(r, "/privacy"), WithdrawURL: s.link(r, "/withdraw")})
}

// privacyRequest answers every valid request with the same page, whether
// or not we hold data on the address (or have just sent it a link), so it
// cannot be used to find out whom we hold data on. An invalid address or
// choice, or a field sent twice or in the URL, shows the form again with
// the message (400). A post from a page other than ours is refused (403); a
// source over its request limit gets 429, which says nothing about the
// address.
func (s *Server) privacyRequest(w http.ResponseWriter, r *http.Request) {
	if err := s.ownSource(r, s.link(r, "/privacy"), "Open the form to ask for your data"); err != nil {
		s.fail(w, r, err)
		return
	}
	mediaType, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	err := parseForm(r, mediaType)
	if err == nil {
		err = singleValues(r, "email", "request")
	}
	if err == nil {
		err = s.Service.RequestPrivacyLink(r.Context(), r.PostForm.Get("email"), r.PostForm.Get("request"), evidence(r))
	}
	var verr *consent.ValidationError
	switch {
	case errors.As(err, &verr):
		s.render(w, r, http.StatusBadRequest, "privacy", privacyData{
			Action: s.link(r, "/privacy"), Errors: verr.Fields, WithdrawURL: s.link(r, "/withdraw"),
			Email: r.PostForm.Get("email"), Request: r.PostForm.Get("request"),
		})
	case err != nil:
		s.fail(w, r, err)
	default:
		s.render(w, r, http.StatusOK, "privacy_sent", nil)
	}
}

type privacyLinkData struct {
	consent.PrivacyLink
	Erase      bool
	Expires    string
	Action     string
	RequestURL string // the form, to ask for a new link
}

// privacyLinkPage answers GET (and HEAD) on an emailed data-request link:
// what pressing its button will do, and the button. It never writes.
func (s *Server) privacyLinkPage(w http.ResponseWriter, r *http.Request) {
	tok := r.URL.Query().Get("t")
	l, err := s.Service.DescribePrivacyLink(r.Context(), tok)
	if err == nil && l.Held {
		s.render(w, r, http.StatusOK, "privacy_link", privacyLinkData{
			PrivacyLink: l, Erase: l.Kind == consent.PrivacyErase, Expires: consent.ReadableTime(l.Expires),
			Action: s.privacyLink(r, tok), RequestURL: s.link(r, "/privacy"),
		})
		return
	}
	if err == nil {
		err = consent.ErrNothingHeld
	}
	s.privacyLinkFailure(w, r, err)
}

// privacyAct handles the link page's button (body confirm=yes): an export
// link shows the data as a page, or with format=json downloads it as a JSON
// file; an erase link erases the person and confirms it. A body without the
// button's field, or with a format the link does not offer, is a bad link
// (400); a post from a page other than ours is refused (403). Expired
// links and links whose data is no longer held (already erased) get a page
// saying so, and change nothing.
func (s *Server) privacyAct(w http.ResponseWriter, r *http.Request) {
	tok := r.URL.Query().Get("t")
	if err := s.ownSource(r, s.privacyLink(r, tok), "Open the link in the email again"); err != nil {
		s.fail(w, r, err)
		return
	}
	if err := readLinkForm(r, "confirm", "format"); err != nil {
		s.fail(w, r, err)
		return
	}
	if r.PostForm.Get("confirm") != "yes" {
		s.fail(w, r, errBadLink)
		return
	}
	format := r.PostForm.Get("format")
	l, err := s.Service.DescribePrivacyLink(r.Context(), tok)
	switch {
	case err != nil:
		s.privacyLinkFailure(w, r, err)
	case l.Kind == consent.PrivacyExport && (format == "" || format == "json"):
		s.privacyExport(w, r, tok, format == "json")
	case l.Kind == consent.PrivacyErase && format == "":
		s.privacyErase(w, r, tok)
	default:
		s.fail(w, r, errBadLink)
	}
}

func (s *Server) privacyExport(w http.ResponseWriter, r *http.Request, tok string, download bool) {
	x, err := s.Service.ExportByLink(r.Context(), tok)
	if err != nil {
		s.privacyLinkFailure(w, r, err)
		return
	}
	s.logPrivacy(r, "privacy_exported")
	if !download {
		s.render(w, r, http.StatusOK, "privacy_data", s.exportView(r, tok, x))
		return
	}
	body, err := json.MarshalIndent(x, "", "  ")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	// The file name holds the date only, never the address.
	h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": "my-data-" + x.ExportedAt.UTC().Format("2006-01-02") + ".json"}))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(append(body, '\n'))
}

func (s *Server) privacyErase(w http.ResponseWriter, r *http.Request, tok string) {
	if _, err := s.Service.EraseByLink(r.Context(), tok, evidence(r)); err != nil {
		s.privacyLinkFailure(w, r, err)
		return
	}
	s.logPrivacy(r, "privacy_erased")
	s.render(w, r, http.StatusOK, "privacy_erased", nil)
}

// privacyLinkFailure answers a data-request link that cannot act: expired
// (a page offering a new link), nothing held (a page saying so), or any
// other error as fail does (a bad link: the generic 400 page).
func (s *Server) privacyLinkFailure(w http.ResponseWriter, r *http.Request, err error) {
	data := privacyLinkData{RequestURL: s.link(r, "/privacy")}
	switch {
	case errors.Is(err, consent.ErrLinkExpired):
		s.render(w, r, http.StatusOK, "privacy_expired", data)
	case errors.Is(err, consent.ErrNothingHeld):
		s.render(w, r, http.StatusOK, "privacy_nothing", data)
	default:
		s.fail(w, r, err)
	}
}

// privacyLink is the data-request link page for token tok.
func (s *Server) privacyLink(r *http.Request, tok string) string {
	return s.link(r, "/privacy/confirm?t="+url.QueryEscape(tok))
}

// logPrivacy logs a fulfilled data request for the operator's counts: what
// was done and the request id, never the address, IP or token.
func (s *Server) logPrivacy(r *http.Request, metric string) {
	s.logger().LogAttrs(r.Context(), slog.LevelInfo, "self-service data request",
		slog.String("metric", metric), slog.String("request_id", RequestID(r.Context())))
}

// The data page: the export, readable.

type exportView struct {
	Email      string
	Name       string // the name held now, if any
	ExportedAt string
	Events     []eventView
	Decisions  []decisionView
	Deliveries []deliveryView
	// DeliveriesKept says how long delivery records are kept: "30 days".
	DeliveriesKept string
	Action         string // the same link, for the download button
	RequestURL     string
}

type eventView struct {
	When, What string
	Details    []detailView
}

type detailView struct{ Label, Value string }

type deliveryView struct{ When, What, State string }

type decisionView struct {
	Purpose, Basis, Reason string
	Allowed                bool
}

func (s *Server) exportView(r *http.Request, tok string, x consent.Export) exportView {
	v := exportView{
		Email: x.Email, Name: x.Name, ExportedAt: consent.ReadableTime(x.ExportedAt), Action: s.privacyLink(r, tok), RequestURL: s.link(r, "/privacy"),
		DeliveriesKept: strconv.Itoa(int(consent.JobTTL/(24*time.Hour))) + " days",
	}
	for _, e := range x.Events {
		v.Events = append(v.Events, eventView{When: consent.ReadableTime(e.At), What: s.describeEvent(x.Events, e), Details: eventDetails(e)})
	}
	for _, d := range x.Decisions {
		v.Decisions = append(v.Decisions, decisionView{Purpose: s.purposeName(d.Purpose), Basis: string(d.Basis), Reason: d.Reason, Allowed: d.Allowed})
	}
	for _, d := range x.Deliveries {
		v.Deliveries = append(v.Deliveries, deliveryView{When: consent.ReadableTime(d.CreatedAt), What: deliveryWords(d.Kind), State: deliveryStateWords(d.State)})
	}
	return v
}

// deliveryWords says what a delivery job sends, for people.
func deliveryWords(kind consent.JobKind) string {
	switch kind {
	case consent.JobFreebie:
		return "Email with your download"
	case consent.JobReceipt:
		return "Email with the receipt for your consent"
	case consent.JobConfirmLink:
		return "Email with a link to confirm your subscription"
	case consent.JobWithdrawLink:
		return "Email with a link to unsubscribe"
	case consent.JobNotify:
		return "Notice to our other email tools that you left"
	case consent.JobPrivacyExportLink:
		return "Email with a link to see your data"
	case consent.JobPrivacyEraseLink:
		return "Email with a link to delete your data"
	}
	return string(kind)
}

// deliveryStateWords says what became of a delivery job, for people.
func deliveryStateWords(state consent.JobState) string {
	switch state {
	case consent.JobSent:
		return "sent"
	case consent.JobFailed:
		return "could not be delivered"
	case consent.JobSkipped:
		return "not sent"
	}
	return "waiting to be sent"
}

// purposeName says a purpose for people as the catalog names it, or by its
// id if it is no longer configured.
func (s *Server) purposeName(id string) string {
	if p, ok := s.Catalog.Purpose(id); ok {
		return p.Name
	}
	return id
}

// describeEvent says in a line what an event records.
func (s *Server) describeEvent(ledger []consent.Event, e consent.Event) string {
	purpose := s.purposeName(consent.EventPurpose(ledger, e))
	switch e.Type {
	case consent.EventSignup:
		title := e.Magnet
		if m, ok := s.Catalog.Get(e.Magnet); ok {
			title = m.Title
		}
		return "You asked for “" + title + "”"
	case consent.EventGranted:
		return "You ticked the box for " + purpose
	case consent.EventConfirmed:
		return "You confirmed " + purpose + " by the emailed link"
	case consent.EventWithdrawn:
		if e.Method == consent.MethodComplaint {
			return "A spam complaint stopped " + purpose
		}
		return "You stopped " + purpose
	case consent.EventSuppressed:
		switch e.Method {
		case consent.MethodComplaint:
			return "All email to this address stopped after a spam complaint"
		case consent.MethodBounce:
			return "All email to this address stopped: it could not be delivered"
		}
		return "All email to this address stopped"
	case consent.EventObjected:
		return "You objected to direct marketing"
	case consent.EventImported:
		return "Your details were added from our records, for " + purpose
	}
	switch e.Type {
	case "unsuppressed":
		return "Email to this address was allowed again"
	case "rectified":
		return "Your name was corrected"
	}
	return "Recorded: " + string(e.Type)
}

// eventDetails lists the evidence an event holds, in plain labels, leaving
// out what is empty.
func eventDetails(e consent.Event) []detailView {
	o := e.Organisation
	imp := e.Import
	importFrom := ""
	if imp.File != "" {
		importFrom = imp.File + ", row " + strconv.Itoa(imp.Row) + " (" + imp.Source + ")"
	}
	soft := ""
	if so := e.SoftOptIn; so != (consent.SoftOptIn{}) {
		soft = "bought on " + so.SaleDate + " (reference " + so.SaleReference + ", " + so.Category + "); opt-out offered: " + so.OptOutOffered
	}
	all := []detailView{
		{"Email address", e.Email},
		{"Name", e.Name},
		{"Signed up as", strings.ReplaceAll(e.SubscriberType, "_", " ")},
		{"Organisation", strings.Join(nonEmpty(o.Name, o.Role, o.Number, o.Kind), ", ")},
		{"Wording you were shown", e.Wording},
		{"How often", e.Frequency},
		{"Who asked", e.Controller},
		{"Privacy policy", e.PrivacyPolicyURL},
		{"Wording version", e.WordingVersion},
		{"How", methodWords(e.Method)},
		{"Email not sent", map[bool]string{true: "the daily limit of emails to this address was reached"}[e.Delivery == consent.DeliveryLimited]},
		{"Basis", string(e.Basis)},
		{"Added from", importFrom},
		{"Existing customer evidence", soft},
		{"Legitimate-interests assessment", e.LIAReference},
		{"IP address", e.SourceIP},
		{"Browser (user agent)", e.UserAgent},
		{"Request id", e.RequestID},
	}
	var out []detailView
	for _, d := range all {
		if strings.TrimSpace(d.Value) != "" {
			out = append(out, d)
		}
	}
	return out
}

// methodWords says how an event came about, for people; an unknown method
// by its code.
func methodWords(method string) string {
	words := map[string]string{
		consent.MethodForm:            "the form on a web page",
		consent.MethodJSON:            "a form sent by a web page's script",
		consent.MethodCheckbox:        "ticking the box on the form",
		consent.MethodOneClick:        "the unsubscribe button of your email program",
		consent.MethodUnsubscribePage: "the button on our unsubscribe page",
		consent.MethodConfirmLink:     "the button behind the link we emailed",
		consent.MethodBounce:          "your email provider reported the address does not work",
		consent.MethodComplaint:       "you marked one of our emails as spam",
		consent.MethodOperator:        "recorded by us, at your request or by our decision",
		consent.MethodImport:          "added from our own records",
	}
	if w, ok := words[method]; ok {
		return w
	}
	return method
}

func nonEmpty(values ...string) []string {
	var out []string
	for _, v := range values {
		if v != "" {
			out = append(out, v)
		}
	}
	return out
}
