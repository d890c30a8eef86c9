package consent

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/unbundled/unbundled/shared/magnet"
)

// Records is the record of processing activities (UK GDPR Art. 30) and the
// privacy-notice facts, generated from the live configuration: the magnet
// catalog, the retention policy and where the service runs. Nothing in it
// comes from the ledger.
type Records struct {
	// Hosting says where data is kept, as the notices say it.
	Hosting string `json:"hosting"`
	// Controllers are the configuration's controllers, each with what it
	// processes.
	Controllers []ControllerRecord `json:"controllers"`
	// Processors process personal data on the controllers' behalf.
	Processors []Processor     `json:"processors"`
	Transfers  string          `json:"transfers"`
	Retention  RetentionRecord `json:"retention"`
	Security   []string        `json:"security"`
	Rights     []string        `json:"rights"`
	Complaints string          `json:"complaints"`
	// Notices are the privacy-notice facts per magnet.
	Notices []NoticeRecord `json:"notices"`
	// Notes say what the configuration cannot tell and the operator must
	// add.
	Notes []string `json:"notes"`
}

// ControllerRecord is one controller: who it is, how to reach it about
// data, and its processing activities.
type ControllerRecord struct {
	Name       string     `json:"name"`
	Details    string     `json:"details"`
	Contacts   []string   `json:"contacts"`
	DPOs       []string   `json:"dpos,omitempty"`
	Magnets    []string   `json:"magnets"`
	Activities []Activity `json:"activities"`
}

// Activity is one processing activity: its purpose, basis, data subjects,
// categories of data, recipients and retention.
type Activity struct {
	// Purpose is the consent purpose id for marketing purposes
	// ("marketing:acme-ltd/seo-tips"), else a name for the activity
	// ("deliver-downloads", "proof", "imports").
	Purpose      string   `json:"purpose"`
	Name         string   `json:"name"`
	Basis        string   `json:"basis"`
	Magnets      []string `json:"magnets,omitempty"`
	DataSubjects []string `json:"data_subjects"`
	Data         []string `json:"data"`
	Recipients   []string `json:"recipients"`
	Retention    string   `json:"retention"`
}

// RetentionRecord is the retention policy in force, in days.
type RetentionRecord struct {
	UnconfirmedDays int      `json:"unconfirmed_days"`
	EvidenceDays    int      `json:"evidence_days"`
	WithdrawnDays   int      `json:"withdrawn_days"`
	Rules           []string `json:"rules"`
}

// NoticeRecord is the privacy-notice facts of one magnet and its notice.
type NoticeRecord struct {
	Magnet           string `json:"magnet"`
	Title            string `json:"title"`
	Controller       string `json:"controller"`
	Contact          string `json:"contact"`
	DPO              string `json:"dpo,omitempty"`
	PrivacyPolicyURL string `json:"privacy_policy_url"`
	// NoticeVersion is the id the magnet's sign-up events record as
	// notice_version, if the service runs with the same base URL, region
	// and retention policy.
	NoticeVersion string `json:"notice_version"`
	NoticeURL     string `json:"notice_url"`
	Short         string `json:"short"`
	// Text is the full notice.
	Text string `json:"text"`
}

// Records returns the record of processing activities for the service's
// live configuration: its Catalog, Retention and Hosting, with the
// Hosting's BaseURL, when not set, from the request's link base (as
// CurrentNotice takes it), so the notice versions are the ones the
// service records. It reads no store.
func (s *Service) Records(ctx context.Context) Records {
	return BuildRecords(s.Catalog, s.Retention, s.hostingFor(ctx))
}

// BuildRecords derives the records from the catalog, the retention policy
// r (zero periods: defaults) and host. It is deterministic.
func BuildRecords(catalog *magnet.Catalog, r Retention, host Hosting) Records {
	e := r.Effective()
	const day = 24 * time.Hour
	rec := Records{
		Hosting:    host.Where(),
		Processors: host.Processors(),
		Transfers:  host.Transfers(),
		Retention: RetentionRecord{
			UnconfirmedDays: int(e.Unconfirmed / day), EvidenceDays: int(e.Evidence / day), WithdrawnDays: int(e.Withdrawn / day),
			Rules: []string{
				fmt.Sprintf("People with no standing marketing basis (a download only, or consent never confirmed) are erased %d days after their last event.", int(e.Unconfirmed/day)),
				fmt.Sprintf("IP addresses and user agents kept as evidence are truncated %d days after the event.", int(e.Evidence/day)),
				fmt.Sprintf("People who withdrew (and hold no other basis) are erased %d days after the withdrawal; a tombstone (keyed hash of the address, time, reason) stays.", int(e.Withdrawn/day)),
				"While consent or another basis stands, the person's ledger (with its evidence) is kept; objections, bounces and complaints are kept so they are honoured.",
				"Claims (pending confirmations, rate-limit counters, idempotency keys) and delivery jobs expire by TTL within 30 days.",
			},
		},
		Security:   securityMeasures(host),
		Complaints: "Data subjects may complain to " + ICO + ".",
		Rights: []string{
			"access (with the consent history) and portability: self-service at " + pageOf(host, "/privacy") + ", or `unbundled export` (JSON)",
			"rectification: `unbundled rectify` (the name held)",
			"restriction: on request to the controller's contact",
			"erasure: self-service at " + pageOf(host, "/privacy") + ", or `unbundled erase` / POST /admin/erase; a keyed-hash tombstone stays",
			"objection to direct marketing: `unbundled object` / POST /admin/object (permanent)",
			"withdrawal of consent: one-click unsubscribe in every marketing email, or " + pageOf(host, "/withdraw"),
		},
	}
	for _, m := range catalog.All() {
		n := NoticeFor(m, r, host)
		rec.Notices = append(rec.Notices, NoticeRecord{
			Magnet: m.ID, Title: m.Title, Controller: m.Controller, Contact: m.PrivacyContactAddress(), DPO: m.DPO,
			PrivacyPolicyURL: m.PrivacyPolicyURL, NoticeVersion: n.ID, NoticeURL: pageOf(host, "/notice?magnet="+m.ID),
			Short: n.Short, Text: n.Text,
		})
	}
	rec.Controllers = controllerRecords(catalog.All(), e, host)
	if host.BaseURL == "" {
		rec.Notes = append(rec.Notes, "No -base-url: the notices name this service's pages by path, and their versions differ from those the running service records (it links under its own URL).")
	}
	rec.Notes = append(rec.Notes,
		"If a webhook is configured (WebhookUrl, -webhook-url), the tool behind it receives withdrawals, objections, bounces and complaints (address, purpose, time): add it as a recipient.",
		"The activity 'imports' applies only if you import contacts (`unbundled import`); it is based on your own legitimate-interests assessment.",
	)
	return rec
}

// controllerRecords groups the magnets by controller (first appearance
// first) and lists each controller's activities.
func controllerRecords(magnets []magnet.Magnet, r Retention, host Hosting) []ControllerRecord {
	var out []ControllerRecord
	index := map[string]int{}
	for _, m := range magnets {
		id := magnet.ControllerPurpose(m.Controller)
		i, seen := index[id]
		if !seen {
			i = len(out)
			index[id] = i
			out = append(out, ControllerRecord{Name: magnet.ControllerName(m.Controller), Details: m.Controller})
		}
		c := &out[i]
		c.Magnets = append(c.Magnets, m.ID)
		if a := m.PrivacyContactAddress(); !slices.Contains(c.Contacts, a) {
			c.Contacts = append(c.Contacts, a)
		}
		if m.DPO != "" && !slices.Contains(c.DPOs, m.DPO) {
			c.DPOs = append(c.DPOs, m.DPO)
		}
	}
	for i := range out {
		out[i].Activities = activities(out[i], magnets, r, host)
	}
	return out
}

// activities lists controller c's processing activities: delivering the
// downloads, each marketing purpose its magnets ask for, keeping proof, and
// imports.
func activities(c ControllerRecord, magnets []magnet.Magnet, r Retention, host Hosting) []Activity {
	const day = 24 * time.Hour
	var processors []string
	for _, p := range host.Processors() {
		processors = append(processors, p.Name+", processor")
	}
	if len(processors) == 0 {
		processors = []string{"none (data stays on this computer)"}
	}
	subjects := []string{"people who ask for a download on the controller's forms (members of the public; sole traders, partnerships and company contacts where the form asks)"}
	signupData := []string{"email address", "first name (optional)"}
	var asksType bool
	var mine []magnet.Magnet
	for _, m := range magnets {
		if magnet.ControllerPurpose(m.Controller) == magnet.ControllerPurpose(c.Details) {
			mine = append(mine, m)
			asksType = asksType || m.AskSubscriberType
		}
	}
	if asksType {
		signupData = append(signupData, "subscriber type; for a company: organisation name, role, Companies House number")
	}
	evidence := "evidence: time, IP address, user agent, page URL, request id"
	list := []Activity{{
		Purpose: "deliver-downloads", Name: "Delivering the downloads people ask for",
		Basis: "UK GDPR Art. 6(1)(b): steps at the person's request", Magnets: c.Magnets,
		DataSubjects: subjects, Data: append(slices.Clone(signupData), evidence, "delivery records (which email, when)"),
		Recipients: processors,
		Retention:  fmt.Sprintf("erased %d days after the last event unless a marketing basis stands", int(r.Unconfirmed/day)),
	}}
	index := map[string]int{}
	add := func(id, name, partner, magnetID string) {
		if i, ok := index[id]; ok {
			if !slices.Contains(list[i].Magnets, magnetID) {
				list[i].Magnets = append(list[i].Magnets, magnetID)
			}
			return
		}
		recipients := slices.Clone(processors)
		if partner != "" {
			recipients = append(recipients, partner+" (named partner; only people who ticked this box)")
		}
		index[id] = len(list)
		list = append(list, Activity{
			Purpose: id, Name: "Email marketing: " + name,
			Basis: "consent: UK GDPR Art. 6(1)(a); PECR reg. 22 (an unticked box, per purpose; double opt-in where configured)", Magnets: []string{magnetID},
			DataSubjects: []string{"people who ticked this purpose's box"},
			Data:         []string{"email address", "first name (optional)", "the consent: wording shown (archived version), privacy notice version, frequency, confirmation", evidence},
			Recipients:   recipients,
			Retention: fmt.Sprintf("while consent stands; after a withdrawal erased within %d days (tombstone kept); never-confirmed consent erased after %d days",
				int(r.Withdrawn/day), int(r.Unconfirmed/day)),
		})
	}
	for _, m := range mine {
		add(m.PurposeID(), m.PurposeName()+" ("+m.Frequency+")", "", m.ID)
		for _, p := range m.ExtraPurposes {
			add(m.ExtraPurposeID(p), p.Name, p.Partner, m.ID)
		}
	}
	list = append(list,
		Activity{
			Purpose: "proof", Name: "Keeping proof of consent and honouring people's choices (suppression, objections, erasure tombstones), and protecting the forms from abuse",
			Basis:        "UK GDPR Art. 7(1) with Art. 6(1)(c) (demonstrating consent); Art. 6(1)(f) (legitimate interests: showing compliance, preventing abuse)",
			DataSubjects: append(slices.Clone(subjects), "people who withdrew, objected, bounced, complained or were erased"),
			Data: []string{"the append-only consent ledger with its evidence", "archived consent wordings and privacy notices",
				"tombstones: keyed hash of the address, time, reason", "rate-limit counters: keyed hash of the IP address"},
			Recipients: processors,
			Retention: fmt.Sprintf("IP address and user agent truncated after %d days; erased with the person (withdrawn: %d days after the withdrawal); tombstones kept",
				int(r.Evidence/day), int(r.Withdrawn/day)),
		},
		Activity{
			Purpose: "imports", Name: "Marketing to existing customers (soft opt-in) and business contacts (corporate subscribers), imported by the operator",
			Basis:        "UK GDPR Art. 6(1)(f) (legitimate interests, with the operator's assessment); PECR reg. 22(3) soft opt-in, or corporate subscribers",
			DataSubjects: []string{"existing customers", "named contacts at registered companies, LLPs and public bodies"},
			Data: []string{"email address", "name", "sale date, reference and product category; how an opt-out was offered",
				"organisation, role, Companies House number, legitimate-interests assessment reference", "import file name, digest, operator and declared source"},
			Recipients: processors,
			Retention:  fmt.Sprintf("while the basis stands; after a withdrawal or objection as for consent (%d days)", int(r.Withdrawn/day)),
		},
	)
	return list
}

func securityMeasures(host Hosting) []string {
	common := []string{
		"keyed hashes (HMAC-SHA256 under a secret subject key) for subscriber ids, erasure tombstones and rate-limit counters: no address or IP in keys or links",
		"link tokens signed with rotatable HMAC keys, holding no address; one generic error for every tampered token",
		"no personal data (address, IP, token) in logs; no cookies or tracking on pages, no tracking in emails",
		"append-only ledger: every write conditional, nothing edited",
	}
	if host.Local {
		return append([]string{
			"data files on this computer only (keys file mode 0600); admin routes answer only this machine",
		}, common...)
	}
	return append([]string{
		"encryption at rest: the DynamoDB table is encrypted (SSE), with point-in-time recovery and deletion protection",
		"encryption in transit: TLS for every request (API Gateway) and to AWS services",
		"least-privilege IAM per function; only the IAM-authorised admin function may scan or delete; keys in AWS Secrets Manager",
	}, common...)
}

// pageOf is the URL of path on the service, or path alone without a base URL.
func pageOf(host Hosting, path string) string { return host.BaseURL + path }
