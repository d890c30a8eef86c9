package consent

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/unbundled/unbundled/shared/magnet"
)

// Notice is the privacy notice a magnet's form gives at collection (UK GDPR
// Art. 13): who the controller is and how to reach them, what is collected,
// the purposes and their bases, who receives the data and where it is kept,
// how long it is kept, the person's rights and how to complain to the ICO.
//
// Text is the full notice, plain text; Short says it in one or two
// sentences, for forms and pages, next to a link to the full text. ID is
// "notice-" plus the first 32 hex digits of the SHA-256 of the canonical
// JSON of the Text and of the privacy-policy URL, frequency and controller
// archived with it, so the same notice always gets the same id and any
// change gets a new one. Notices are archived in the WordingArchive like
// consent wordings, and every `signup` and `granted` event names the notice
// in force (Event.NoticeVersion).
type Notice struct {
	ID    string `json:"id"`
	Text  string `json:"text"`
	Short string `json:"short"`
}

// NoticePrefix starts every privacy-notice version id; consent wording
// version ids start with "w".
const NoticePrefix = "notice-"

// IsNoticeID reports whether id names a privacy-notice version rather than
// a consent wording version.
func IsNoticeID(id string) bool { return strings.HasPrefix(id, NoticePrefix) }

// Hosting says where the service runs and keeps personal data, and where
// it is reached: what the privacy notice and the record of processing say
// about processors and transfers.
type Hosting struct {
	// Local is the embedded local server: data stays on the computer it
	// runs on, with no processors and no transfers.
	Local bool
	// Region is the AWS region the stack runs in (AWS_REGION), such as
	// "eu-west-2"; empty when not known. Ignored when Local.
	Region string
	// BaseURL is the public URL the service answers at, without a trailing
	// slash; the notice gives its /privacy and /withdraw pages under it.
	// Service fills it in from LinkBase when empty; without one the notice
	// names the pages by path.
	BaseURL string
}

// region is what the notice knows of an AWS region: where it is, and
// whether the UK treats it as adequate (UK GDPR Art. 45: the UK itself,
// the EEA and Switzerland).
type region struct {
	place, country string
	adequate       bool
}

var awsRegions = map[string]region{
	"eu-west-2":    {"London", "the United Kingdom", true},
	"eu-west-1":    {"Ireland", "Ireland", true},
	"eu-west-3":    {"Paris", "France", true},
	"eu-central-1": {"Frankfurt", "Germany", true},
	"eu-central-2": {"Zurich", "Switzerland", true},
	"eu-north-1":   {"Stockholm", "Sweden", true},
	"eu-south-1":   {"Milan", "Italy", true},
	"eu-south-2":   {"Spain", "Spain", true},
	"us-east-1":    {"N. Virginia", "the United States", false},
	"us-east-2":    {"Ohio", "the United States", false},
	"us-west-1":    {"N. California", "the United States", false},
	"us-west-2":    {"Oregon", "the United States", false},
}

// Where says where data is kept, in words: "Amazon Web Services, region
// eu-west-2 (London)" or "this computer (local server)".
func (h Hosting) Where() string {
	switch r, known := awsRegions[h.Region]; {
	case h.Local:
		return "this computer (local server)"
	case h.Region == "":
		return "Amazon Web Services, in the region this service is deployed to"
	case known:
		return "Amazon Web Services, region " + h.Region + " (" + r.place + ")"
	default:
		return "Amazon Web Services, region " + h.Region
	}
}

// Processor is a service provider that processes personal data on the
// controller's behalf (UK GDPR Art. 28), and what it does with it.
type Processor struct {
	Name string `json:"name"`
	Does string `json:"does"`
}

// Processors are the processors the product itself uses: on AWS, Amazon Web
// Services (DynamoDB, Lambda and API Gateway, SES); none locally. Partners
// named by extra purposes are recipients, not processors, and are listed
// per purpose.
func (h Hosting) Processors() []Processor {
	if h.Local {
		return nil
	}
	return []Processor{{
		Name: "Amazon Web Services (AWS)",
		Does: "hosts this service on our behalf: Amazon DynamoDB stores the records (encrypted at rest), " +
			"AWS Lambda and Amazon API Gateway receive and handle your requests, and Amazon SES delivers our emails to you",
	}}
}

// Transfers says whether personal data leaves the UK, and under what
// safeguard.
func (h Hosting) Transfers() string {
	r, known := awsRegions[h.Region]
	switch {
	case h.Local:
		return "Your data stays on the computer running this service; it is not transferred anywhere."
	case h.Region == "" || !known:
		return "Your data is kept where this service runs: " + h.Where() + ". If that is outside the UK, " +
			"the transfer is protected by the safeguards in AWS's data processing terms (UK GDPR Article 46)."
	case r.country == "the United Kingdom":
		return "Your data is kept in the United Kingdom: " + h.Where() + ". We do not transfer it outside the UK; " +
			"AWS may process it elsewhere only as its data processing terms allow, with the safeguards UK law requires."
	case r.adequate:
		return "Your data is kept in " + r.country + ": " + h.Where() + ". UK law recognises " + r.country + " as protecting personal data adequately " +
			"(UK adequacy regulations, UK GDPR Article 45)."
	default:
		return "Your data is kept outside the UK, in " + r.country + ": " + h.Where() + ". The transfer is protected by the safeguards " +
			"in AWS's data processing terms (UK GDPR Article 46)."
	}
}

// ICO is how to complain to the UK regulator.
const ICO = "the Information Commissioner's Office (ICO), the UK regulator: https://ico.org.uk/make-a-complaint/ or 0303 123 1113"

// NoticeFor returns the privacy notice of magnet m under retention policy r
// (zero periods: defaults) on host. It is deterministic: the same inputs
// give the same Text and ID.
func NoticeFor(m magnet.Magnet, r Retention, host Hosting) Notice {
	r = r.Effective()
	controller := magnet.ControllerName(m.Controller)
	contact := m.PrivacyContactAddress()
	page := func(path string) string { return host.BaseURL + path }
	policy := m.PrivacyPolicyURL
	if strings.HasPrefix(policy, "/") {
		policy = page(policy)
	}

	var b noticeWriter
	b.title("Privacy notice: " + m.Title)
	b.para("This notice says what " + controller + " does with the personal data you give on the form for \"" + m.Title + "\", and your rights.")

	b.section("Who we are")
	b.para("The controller of your personal data, who decides how it is used, is " + m.Controller + ".")
	b.item("Contact us about your data: " + contact)
	if m.DPO != "" {
		b.item("Our data protection officer: " + m.DPO)
	}
	b.item("Our full privacy policy: " + policy)

	b.section("What we collect")
	b.item("your email address")
	b.item("your first name, if you give it")
	if m.AskSubscriberType {
		b.item("who you sign up as (an individual, a sole trader, a partnership or a company) and, for a company, LLP or public body: its name, your role there and its Companies House number")
	}
	b.item("your answer to each consent box, and the exact words shown next to it")
	b.item("proof of how you signed up, confirmed or unsubscribed: the time, your IP address, your browser's user agent, the address of the page the form was on (without anything after a \"?\" or \"#\") and a request reference")
	b.item("which emails we sent you and when")
	b.para("You need to give your email address to get the download; everything else is optional, and ticking no box changes nothing about the download. We make no decisions about you by automated means alone.")

	b.section("Why we use it, and our legal basis")
	b.item("To send you \"" + m.Title + "\", which you asked for. Basis: taking the steps you asked for (UK GDPR Article 6(1)(b)).")
	marketing := "To send you " + m.PurposeName() + " (" + m.Frequency + "), only if you tick its box. Basis: your consent (UK GDPR Article 6(1)(a); PECR regulation 22)."
	if m.RequiresConfirmation() {
		marketing += " It starts only after you confirm by the link we email you."
	}
	b.item(marketing)
	for _, p := range m.ExtraPurposes {
		line := "To send you " + p.Name + ", only if you tick its own box. Basis: your consent (UK GDPR Article 6(1)(a); PECR regulation 22)."
		if p.Partner != "" {
			line += " Recipient: " + p.Partner + "."
		}
		b.item(line)
	}
	b.item("To keep proof of what you agreed to, when and how, and to respect your choices (never emailing you marketing after you unsubscribe or object). " +
		"Basis: our legal obligation to be able to show your consent (UK GDPR Articles 7(1) and 6(1)(c)) and our legitimate interest in showing we follow the law and in protecting this form from abuse (Article 6(1)(f)).")

	b.section("Who receives it")
	for _, p := range host.Processors() {
		b.item(p.Name + ", our processor, " + p.Does + ". It acts only on our instructions.")
	}
	if host.Local {
		b.item("No one else: this service runs on a single computer and keeps your data there.")
	}
	for _, p := range m.ExtraPurposes {
		if p.Partner != "" {
			b.item("If you tick the box for " + p.Name + ": " + p.Partner + ", for that purpose only.")
		}
	}
	b.para("We do not sell your data. No one else receives it unless the law requires it.")

	b.section("Where it is kept")
	b.para(host.Transfers())

	b.section("How long we keep it")
	b.item("If you only take the download, or never confirm marketing consent, we erase your data " + period(r.Unconfirmed) + " after your last sign-up or other activity.")
	b.item("While your marketing consent stands, we keep your details and the proof of your consent.")
	b.item("Your IP address and browser user agent kept as proof are shortened after " + period(r.Evidence) + ".")
	b.item("If you withdraw your consent, we erase your data " + period(r.Withdrawn) + " later, keeping only a keyed hash of your email address (a \"tombstone\"), so that you are never added back from another list.")
	b.item("If you object to direct marketing, or an email to you bounces or is reported as spam, we keep a record of it so that we never email you against your wishes.")
	b.item("Short-lived records (pending confirmations, delivery records, and request counters that hold only a keyed hash of your IP address) delete themselves within 30 days.")

	b.section("Your rights")
	b.para("You have the right to:")
	b.item("get a copy of your data (access), including in a format you can reuse (portability)")
	b.item("have it corrected (rectification)")
	b.item("have it erased (erasure)")
	b.item("restrict how we use it (restriction)")
	b.item("object to our use of it, and to object to direct marketing at any time, which we always honour")
	b.item("withdraw your consent at any time, as easily as you gave it: use the unsubscribe link in any of our emails, or ask for one at " + page("/withdraw") + ". Withdrawing does not affect what was sent before.")
	b.para("To use your rights, go to " + page("/privacy") + " or write to " + contact + ". We answer within one month.")

	b.section("Complaints")
	b.para("If you are unhappy with how we use your data, please tell us first at " + contact + ". You also have the right to complain to " + ICO + ".")

	text := b.String()
	short := controller + " uses your email address to send you this download and, only if you tick a box, the emails it describes; we keep proof of your choice. " +
		"You can see, correct or erase your data, withdraw or object at any time, and complain to the ICO."
	canonical, _ := json.Marshal([]string{text, m.PrivacyPolicyURL, m.Frequency, m.Controller}) // strings always marshal
	sum := sha256.Sum256(canonical)
	return Notice{ID: NoticePrefix + hex.EncodeToString(sum[:16]), Text: text, Short: short}
}

// version is how n is archived for m: the notice text in Wording, with the
// privacy-policy URL, frequency and controller its ID covers.
func (n Notice) version(m magnet.Magnet) WordingVersion {
	return WordingVersion{ID: n.ID, Wording: n.Text, PrivacyPolicyURL: m.PrivacyPolicyURL, Frequency: m.Frequency, Controller: m.Controller}
}

// noticeWriter builds a notice's plain text: a title underlined with "=",
// section headings underlined with "-", paragraphs, and list items starting
// "- ", with a blank line between blocks. Each paragraph and item is one
// line.
type noticeWriter struct {
	strings.Builder
	inList bool
}

func (w *noticeWriter) block() {
	if w.Len() > 0 {
		w.WriteString("\n")
	}
}

func (w *noticeWriter) title(s string) {
	w.WriteString(s + "\n" + strings.Repeat("=", len([]rune(s))) + "\n")
	w.inList = false
}

func (w *noticeWriter) section(s string) {
	w.block()
	w.WriteString(s + "\n" + strings.Repeat("-", len([]rune(s))) + "\n")
	w.inList = false
}

func (w *noticeWriter) para(s string) {
	w.block()
	w.WriteString(s + "\n")
	w.inList = false
}

func (w *noticeWriter) item(s string) {
	if !w.inList {
		w.block()
	}
	w.WriteString("- " + s + "\n")
	w.inList = true
}

// period says d in words: "2 years", "30 days", "36 hours".
func period(d time.Duration) string {
	const day = 24 * time.Hour
	plural := func(n int64, unit string) string {
		if n == 1 {
			return "1 " + unit
		}
		return fmt.Sprintf("%d %ss", n, unit)
	}
	switch {
	case d >= 365*day && d%(365*day) == 0:
		return plural(int64(d/(365*day)), "year")
	case d >= day && d%day == 0:
		return plural(int64(d/day), "day")
	case d%time.Hour == 0:
		return plural(int64(d/time.Hour), "hour")
	default:
		return d.String()
	}
}

// hostingFor is s.Hosting with BaseURL from the request when not set.
func (s *Service) hostingFor(ctx context.Context) Hosting {
	h := s.Hosting
	if h.BaseURL == "" {
		h.BaseURL = s.LinkBase(ctx)
	}
	return h
}

// CurrentNotice returns the privacy notice m's form gives now, under the
// service's retention policy and hosting.
func (s *Service) CurrentNotice(ctx context.Context, m magnet.Magnet) Notice {
	return NoticeFor(m, s.Retention, s.hostingFor(ctx))
}

// noticeKey is what a configured magnet's notice depends on besides the
// magnet itself, which the catalog (immutable once loaded) fixes.
type noticeKey struct {
	catalog   *magnet.Catalog
	magnet    string
	hosting   Hosting
	retention Retention
}

// archiveNotice archives m — a magnet of s.Catalog — its current notice
// (once per Service instance) and returns it. The notice is built once per
// magnet, hosting and policy, not on every sign-up: building it costs
// tens of microseconds and kilobytes.
func (s *Service) archiveNotice(ctx context.Context, m magnet.Magnet) (Notice, error) {
	key := noticeKey{s.Catalog, m.ID, s.hostingFor(ctx), s.Retention}
	var n Notice
	if cached, ok := s.notices.Load(key); ok {
		n = cached.(Notice)
	} else {
		n = NoticeFor(m, key.retention, key.hosting)
		s.notices.Store(key, n)
	}
	if err := s.archiveOnce(ctx, m.ID, n.version(m)); err != nil {
		return Notice{}, fmt.Errorf("archive privacy notice: %w", err)
	}
	return n, nil
}

// ArchivedNotice returns privacy-notice version id of magnet magnetID as
// archived: its text in Wording, and when it was first archived. An id that
// is not a notice id, or not archived for that magnet, is an error wrapping
// ErrNotFound.
func (s *Service) ArchivedNotice(ctx context.Context, magnetID, id string) (WordingVersion, error) {
	if !IsNoticeID(id) {
		return WordingVersion{}, fmt.Errorf("privacy notice %q: %w", id, ErrNotFound)
	}
	v, err := s.Wordings.Wording(ctx, magnetID, id)
	if errors.Is(err, ErrNotFound) {
		return WordingVersion{}, fmt.Errorf("privacy notice %q of magnet %s: %w", id, magnetID, ErrNotFound)
	}
	if err != nil {
		return WordingVersion{}, fmt.Errorf("look up privacy notice: %w", err)
	}
	return v, nil
}
