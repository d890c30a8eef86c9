package consent

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"io"
	"slices"
	"strings"
	texttemplate "text/template"
	"time"
)

// Proof is a proof-of-consent report on one person (UK GDPR Art. 7(1)):
// who they are, every event of their ledger in order with its evidence —
// server time, where it came from (magnet, page, import), method, IP
// address and user agent — the exact wording they were shown and the
// privacy notice in force, as archived, what they may be sent now and
// why, and every email queued about them. It is written for a
// non-developer to read and hand on (Text, HTML), or for tools (JSON).
type Proof struct {
	Email      string `json:"email"`
	Subscriber string `json:"subscriber,omitempty"`
	// Name is the name held now (CurrentName); empty if none.
	Name        string    `json:"name,omitempty"`
	GeneratedAt time.Time `json:"generated_at"`
	// Erased is the tombstone of a person erased and not signed up since:
	// then nothing else is held, and the report says only that.
	Erased *Tombstone `json:"erased,omitempty"`
	// Events is the whole ledger, oldest first, each with a sentence
	// saying what happened.
	Events []ProofEvent `json:"events"`
	// Texts are the consent wordings and privacy notices the events name,
	// in the order first named, with their exact text.
	Texts []ShownText `json:"texts"`
	// Decisions says, for every configured purpose, whether marketing may
	// be sent now, on what basis and why.
	Decisions []Decision `json:"decisions"`
	// Deliveries are the emails (and webhook notifications) queued about
	// the person, oldest first; delivery records expire JobTTL after they
	// were created.
	Deliveries []Delivery `json:"deliveries"`
	// Nav, if set, are links shown above the HTML report (the local
	// server's ledger page uses them); never part of the JSON or text.
	Nav []NavLink `json:"-"`
}

// NavLink is one link above an HTML report.
type NavLink struct {
	Label string
	URL   string
}

// ProofEvent is one ledger event with what it means, in words.
type ProofEvent struct {
	Event Event `json:"event"`
	// Summary says what happened in one sentence.
	Summary string `json:"summary"`
	// Details are the evidence recorded, labelled for people (the same
	// as Event, for the text and HTML reports).
	Details []ProofDetail `json:"-"`
}

// ProofDetail is one labelled piece of evidence.
type ProofDetail struct {
	Label, Value string
}

// The kinds of text a person is shown at collection.
const (
	TextWording = "consent wording"
	TextNotice  = "privacy notice"
)

// Where a shown text in a proof was read from.
const (
	// TextFromArchive: the immutable archive, under its version id.
	TextFromArchive = "archive"
	// TextFromEvent: the copy recorded with the event, because the
	// archive does not hold the version for that magnet.
	TextFromEvent = "event"
	// TextMissing: neither holds it (a privacy notice not archived).
	TextMissing = "missing"
)

// ShownText is one version of a text shown at collection, as a proof
// quotes it.
type ShownText struct {
	Kind    string `json:"kind"` // TextWording or TextNotice
	Version string `json:"version"`
	Magnet  string `json:"magnet"`
	// Text is the exact text: the consent wording next to the checkbox, or
	// the full privacy notice.
	Text             string    `json:"text"`
	PrivacyPolicyURL string    `json:"privacy_policy_url,omitempty"`
	Frequency        string    `json:"frequency,omitempty"`
	Controller       string    `json:"controller,omitempty"`
	ArchivedAt       time.Time `json:"archived_at,omitzero"`
	// From says where the text was read: TextFromArchive, TextFromEvent or
	// TextMissing.
	From string `json:"from"`
	// Note flags anything a reader must know, e.g. that the copy recorded
	// with an event differs from the archive.
	Note string `json:"note,omitempty"`
}

// Proof gathers the proof-of-consent report on the person with this
// address. A person nobody is on record with gets a report that says so
// (and, if erased, when and why); a bad address is a *ValidationError.
func (s *Service) Proof(ctx context.Context, address string) (Proof, error) {
	if s.Jobs == nil {
		return Proof{}, fmt.Errorf("proof: %w", errNoOutbox)
	}
	x, err := s.Export(ctx, address)
	if err != nil {
		return Proof{}, fmt.Errorf("proof: %w", err)
	}
	p := Proof{Email: x.Email, Subscriber: x.Subscriber, Name: x.Name, GeneratedAt: x.ExportedAt, Erased: x.Erased,
		Events: []ProofEvent{}, Texts: []ShownText{}, Decisions: x.Decisions, Deliveries: x.Deliveries}
	texts := map[string]int{} // kind, magnet and version → index in p.Texts
	shown := func(kind string, e Event, version string) error {
		key := kind + "\n" + e.Magnet + "\n" + version
		if _, ok := texts[key]; ok || version == "" {
			return nil
		}
		t, err := s.shownText(ctx, kind, e, version)
		if err != nil {
			return err
		}
		texts[key] = len(p.Texts)
		p.Texts = append(p.Texts, t)
		return nil
	}
	for _, e := range x.Events {
		if e.Type == EventGranted || e.Type == EventConfirmed {
			if err := shown(TextWording, e, e.WordingVersion); err != nil {
				return Proof{}, fmt.Errorf("proof: %w", err)
			}
		}
		if err := shown(TextNotice, e, e.NoticeVersion); err != nil {
			return Proof{}, fmt.Errorf("proof: %w", err)
		}
		p.Events = append(p.Events, ProofEvent{Event: e, Summary: s.proofSummary(x.Events, e), Details: proofDetails(x.Events, e)})
	}
	// The consent wordings first: they are what the person agreed to.
	slices.SortStableFunc(p.Texts, func(a, b ShownText) int {
		rank := func(t ShownText) int {
			if t.Kind == TextNotice {
				return 1
			}
			return 0
		}
		return cmp.Compare(rank(a), rank(b))
	})
	return p, nil
}

// shownText reads version of kind for e's magnet from the archive, or
// falls back to the copy recorded with e.
func (s *Service) shownText(ctx context.Context, kind string, e Event, version string) (ShownText, error) {
	t := ShownText{Kind: kind, Version: version, Magnet: e.Magnet}
	var v WordingVersion
	var err error
	if kind == TextNotice {
		v, err = s.ArchivedNotice(ctx, e.Magnet, version)
	} else {
		v, err = s.Wordings.Wording(ctx, e.Magnet, version)
	}
	switch {
	case err == nil:
		t.Text, t.PrivacyPolicyURL, t.Frequency, t.Controller, t.ArchivedAt, t.From = v.Wording, v.PrivacyPolicyURL, v.Frequency, v.Controller, v.ArchivedAt.UTC(), TextFromArchive
		if kind == TextWording && e.Type == EventGranted && e.Wording != "" && e.Wording != v.Wording {
			t.Note = "the copy recorded with the event differs from the archive; the archive is immutable and is quoted here"
		}
	case !errors.Is(err, ErrNotFound):
		return ShownText{}, fmt.Errorf("read archived %s %s: %w", kind, version, err)
	case kind == TextWording && e.Wording != "":
		t.Text, t.PrivacyPolicyURL, t.Frequency, t.Controller, t.From = e.Wording, e.PrivacyPolicyURL, e.Frequency, e.Controller, TextFromEvent
		t.Note = "the archive does not hold this version for this magnet; quoted from the copy recorded with the event"
	default:
		t.From = TextMissing
		t.Note = "the archive does not hold this version for this magnet"
	}
	return t, nil
}

// proofSummary says what e was, in one sentence a non-developer can read.
func (s *Service) proofSummary(ledger []Event, e Event) string {
	magnetName := func() string {
		if m, ok := s.Catalog.Get(e.Magnet); ok {
			return fmt.Sprintf("%q (%s)", m.Title, e.Magnet)
		}
		return fmt.Sprintf("%q (no longer configured)", e.Magnet)
	}
	purpose := func() string { return s.purposeName(EventPurpose(ledger, e)) }
	how := methodWords(e.Method)
	switch e.Type {
	case EventSignup:
		text := "Asked for the free download " + magnetName()
		switch e.Method {
		case MethodForm:
			text += " on a web form"
		case MethodJSON:
			text += " through the sign-up API"
		}
		if e.PageURL != "" {
			text += " at " + e.PageURL
		}
		if e.Delivery == DeliveryLimited {
			text += "; it was not emailed, because the address had reached its daily email limit"
		}
		return text + "."
	case EventGranted:
		text := "Ticked the unticked box to receive " + purpose()
		if e.Frequency != "" {
			text += " (" + e.Frequency + ")"
		}
		if e.WordingStatus == WordingUnverified {
			text += "; wording not verified: the form did not say which wording it showed; the configured wording at the time is quoted below"
		} else {
			text += ", agreeing to the wording quoted below"
		}
		if e.ConfirmationRequired {
			text += "; the consent counts only once confirmed by the emailed link"
		}
		return text + "."
	case EventConfirmed:
		return "Confirmed their consent to " + purpose() + " by pressing the button behind the emailed confirm link."
	case EventWithdrawn:
		return "Withdrew their consent to " + purpose() + " by " + how + "."
	case EventObjected:
		return "Objected to direct marketing (" + how + "): no marketing of any kind may be sent to them again."
	case EventSuppressed:
		switch e.Method {
		case MethodBounce:
			return "The mail provider reported a permanent bounce: no email of any kind is sent to the address while it stays suppressed."
		case MethodComplaint:
			return "The person reported our email as spam: no email of any kind is sent to the address while it stays suppressed."
		}
		return "The operator suppressed the address (" + e.Reason + "): no email of any kind is sent to it while it stays suppressed."
	case EventUnsuppressed:
		return "The operator lifted the suppression (" + e.Reason + "): email may be sent to the address again."
	case EventImported:
		basis := "an existing customer (soft opt-in)"
		if e.Basis == BasisCorporate {
			basis = "a contact at a company (corporate subscriber)"
		}
		return "Imported by " + orUnknown(e.Import.Operator) + " as " + basis + " for " + purpose() + ", from the file " + orUnknown(e.Import.File) + "."
	case EventRectified:
		if e.Name == "" {
			return "The operator removed the name held (right to rectification)."
		}
		return "The operator corrected the name held to " + fmt.Sprintf("%q", e.Name) + " (right to rectification)."
	}
	return "Event of type " + string(e.Type) + " by " + how + "."
}

func orUnknown(s string) string {
	if s == "" {
		return "(not recorded)"
	}
	return s
}

// proofDetails lists the evidence recorded with e, labelled for people.
func proofDetails(ledger []Event, e Event) []ProofDetail {
	var d []ProofDetail
	add := func(label, value string) {
		if value != "" {
			d = append(d, ProofDetail{label, value})
		}
	}
	add("Magnet", e.Magnet)
	if e.Type != EventSignup && e.Type != EventSuppressed && e.Type != EventUnsuppressed && e.Type != EventObjected && e.Type != EventRectified {
		add("Purpose", EventPurpose(ledger, e))
	}
	add("Page", e.PageURL)
	add("Method", e.Method)
	add("Email address", e.Email)
	if e.Type == EventSignup || e.Type == EventImported || e.Type == EventRectified {
		add("Name", e.Name)
	}
	add("Subscriber type", e.SubscriberType)
	if o := e.Organisation; o != (Organisation{}) {
		add("Organisation", strings.TrimSuffix(strings.Join(nonEmpty(o.Name, o.Number, o.Kind), ", "), ", "))
		add("Role", o.Role)
	}
	add("Consent wording version", e.WordingVersion)
	if e.Type == EventGranted {
		add("Wording shown", wordingStatusWords(e.WordingStatus))
	}
	add("Privacy policy", e.PrivacyPolicyURL)
	add("Privacy notice in force", e.NoticeVersion)
	if e.ConfirmationRequired {
		add("Double opt-in", "confirmation required")
	}
	add("Confirms", e.Confirms)
	add("Basis", string(e.Basis))
	if i := e.Import; i != (ImportSource{}) {
		add("Import file", fmt.Sprintf("%s, row %d (SHA-256 %s)", i.File, i.Row, i.Digest))
		add("Declared source", i.Source)
		add("Imported by", i.Operator)
	}
	if so := e.SoftOptIn; so != (SoftOptIn{}) {
		add("Sale", so.SaleReference+" on "+so.SaleDate)
		add("Product category", so.Category)
		add("Opt-out offered", so.OptOutOffered)
	}
	add("Legitimate-interests assessment", e.LIAReference)
	add("Reason", e.Reason)
	if e.Delivery == DeliveryLimited {
		add("Delivery", "not emailed: daily email limit reached")
	}
	add("IP address", e.SourceIP)
	add("Browser (user agent)", e.UserAgent)
	add("Request id", e.RequestID)
	add("Event id", e.ID)
	return d
}

// wordingStatusWords says what a `granted` event's WordingStatus means,
// for people.
func wordingStatusWords(status string) string {
	switch status {
	case WordingVerified:
		return "verified: the form named this wording version"
	case WordingUnverified:
		return "not verified: the form did not say which wording it showed; the configured wording at the time is quoted"
	}
	return "not recorded (the event predates wording verification)"
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

// HumanTime formats t for people: "2 December 2026 at 14:05:09 UTC".
func HumanTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2 January 2006 at 15:04:05 UTC")
}

// deliveryWords says what a delivery job sends, for people.
func deliveryWords(kind JobKind) string {
	switch kind {
	case JobFreebie:
		return "the free download"
	case JobReceipt:
		return "the consent receipt"
	case JobConfirmLink:
		return "a new confirm link"
	case JobWithdrawLink:
		return "an unsubscribe link they asked for"
	case JobNotify:
		return "a notice to the business's other sending tools (webhook)"
	}
	return string(kind)
}

// stateWords says what became of a delivery, for people.
func stateWords(d Delivery) string {
	switch d.State {
	case JobSent:
		return "sent"
	case JobFailed:
		return "failed"
	case JobSkipped:
		return "not sent"
	case JobPending, JobSending:
		return "waiting to be sent"
	}
	return string(d.State)
}

var proofFuncs = map[string]any{
	"when":     HumanTime,
	"delivery": deliveryWords,
	"outcome":  stateWords,
	"indent": func(prefix, text string) string {
		lines := strings.Split(strings.TrimRight(text, "\n"), "\n")
		for i, l := range lines {
			lines[i] = strings.TrimRight(prefix+l, " ")
		}
		return strings.Join(lines, "\n")
	},
	"allowed": func(d Decision) string {
		if d.Allowed {
			return "may be emailed"
		}
		return "may not be emailed"
	},
	"inc": func(i int) int { return i + 1 },
}

var (
	proofText = texttemplate.Must(texttemplate.New("proof.txt.tmpl").Funcs(proofFuncs).ParseFS(templateFS, "templates/proof.txt.tmpl"))
	proofHTML = htmltemplate.Must(htmltemplate.New("proof.html.tmpl").Funcs(proofFuncs).ParseFS(templateFS, "templates/proof.html.tmpl"))
)

// WriteText writes the report as plain text, for reading or printing.
func (p Proof) WriteText(w io.Writer) error {
	var buf bytes.Buffer
	if err := proofText.Execute(&buf, p); err != nil {
		return fmt.Errorf("render proof: %w", err)
	}
	_, err := w.Write(buf.Bytes())
	return err
}

// WriteHTML writes the report as one self-contained HTML page: its style
// inline, no scripts, nothing loaded from elsewhere, laid out for print.
func (p Proof) WriteHTML(w io.Writer) error {
	var buf bytes.Buffer
	if err := proofHTML.Execute(&buf, p); err != nil {
		return fmt.Errorf("render proof: %w", err)
	}
	_, err := w.Write(buf.Bytes())
	return err
}
