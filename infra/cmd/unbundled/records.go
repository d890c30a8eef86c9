package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"html/template"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/unbundled/unbundled/shared/config"
	"github.com/unbundled/unbundled/shared/consent"
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
	Processors []consent.Processor `json:"processors"`
	Transfers  string              `json:"transfers"`
	Retention  RetentionRecord     `json:"retention"`
	Security   []string            `json:"security"`
	Rights     []string            `json:"rights"`
	Complaints string              `json:"complaints"`
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

// records prints the record of processing activities and the privacy-notice
// facts from the configuration: text by default, -json or -html.
func records(_ context.Context, args []string, stdout, stderr io.Writer) int {
	const about = "Prints the record of processing activities (UK GDPR Article 30) and the privacy-notice facts,\n" +
		"generated from the magnet configuration, the retention policy and where the service runs. Reads no ledger."
	fs := flag.NewFlagSet("records", flag.ContinueOnError)
	fs.SetOutput(stderr)
	magnets := fs.String("magnets", "infra/local/magnets.json", "magnet catalog JSON file (the one the stack or local server runs with)")
	region := fs.String("region", defaultRegion(os.Getenv), "AWS region the stack runs in (default $AWS_REGION, else eu-west-2)")
	local := fs.Bool("local", false, "describe the local server (data on this computer, no processors) instead of the AWS stack")
	baseURL := fs.String("base-url", "", "the URL the service answers at, for the notice's links: the stack's PublicBaseURL, else its ApiUrl (default with -local: "+localBaseURL+")")
	// The retention periods, as `unbundled retention run` and the stack's
	// Retention… parameters take them.
	d := consent.DefaultRetention.Days()
	fs.IntVar(&d.Unconfirmed, "unconfirmed-days", d.Unconfirmed, fmt.Sprintf("retention: people who never held a marketing basis are erased this many days after their last activity (%d-%d)", consent.UnconfirmedDaysRange[0], consent.UnconfirmedDaysRange[1]))
	fs.IntVar(&d.Evidence, "evidence-days", d.Evidence, fmt.Sprintf("retention: IP addresses and user agents are minimised this many days after the event (%d-%d)", consent.EvidenceDaysRange[0], consent.EvidenceDaysRange[1]))
	fs.IntVar(&d.Withdrawn, "withdrawn-days", d.Withdrawn, fmt.Sprintf("retention: people who withdrew are erased this many days after the withdrawal (%d-%d)", consent.WithdrawnDaysRange[0], consent.WithdrawnDaysRange[1]))
	asJSON := fs.Bool("json", false, "print JSON")
	asHTML := fs.Bool("html", false, "print an HTML page")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: unbundled records [flags]\n\n%s\n\nFlags:\n", about)
		fs.PrintDefaults()
	}
	errorf := func(format string, args ...any) {
		fmt.Fprintf(stderr, "unbundled records: %s\n", fmt.Sprintf(format, args...))
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	switch {
	case fs.NArg() > 0:
		errorf("unexpected %q (flags go before anything else)", fs.Arg(0))
		fs.Usage()
		return 2
	case *asJSON && *asHTML:
		errorf("choose one of -json and -html")
		return 2
	case d.Unconfirmed <= 0 || d.Evidence <= 0 || d.Withdrawn <= 0 || d.Retention().Check() != nil:
		errorf("the retention periods must be whole days: -unconfirmed-days %d-%d, -evidence-days %d-%d, -withdrawn-days %d-%d",
			consent.UnconfirmedDaysRange[0], consent.UnconfirmedDaysRange[1], consent.EvidenceDaysRange[0], consent.EvidenceDaysRange[1],
			consent.WithdrawnDaysRange[0], consent.WithdrawnDaysRange[1])
		return 2
	}
	policy := d.Retention()
	host := consent.Hosting{Local: *local, Region: strings.TrimSpace(*region), BaseURL: strings.TrimSpace(*baseURL)}
	if host.BaseURL == "" && *local {
		host.BaseURL = localBaseURL
	}
	if host.BaseURL != "" {
		if err := config.CheckBaseURL(host.BaseURL); err != nil {
			errorf("-base-url: %v", err)
			return 2
		}
	}
	catalog, err := magnet.Load(*magnets)
	if err != nil {
		errorf("%v", err)
		return 1
	}
	rec := buildRecords(catalog, policy, host)
	switch {
	case *asJSON:
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		err = enc.Encode(rec)
	case *asHTML:
		err = recordsPage.Execute(stdout, rec)
	default:
		err = writeRecords(stdout, rec)
	}
	if err != nil {
		errorf("%v", err)
		return 1
	}
	return 0
}

// defaultRegion is $AWS_REGION, else eu-west-2 (London).
func defaultRegion(getenv func(string) string) string {
	if r := strings.TrimSpace(getenv("AWS_REGION")); r != "" {
		return r
	}
	return "eu-west-2"
}

// buildRecords derives the records from the catalog, the retention policy
// r (zero periods: defaults) and host. It is deterministic.
func buildRecords(catalog *magnet.Catalog, r consent.Retention, host consent.Hosting) Records {
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
		Complaints: "Data subjects may complain to " + consent.ICO + ".",
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
		n := consent.NoticeFor(m, r, host)
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
func controllerRecords(magnets []magnet.Magnet, r consent.Retention, host consent.Hosting) []ControllerRecord {
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
func activities(c ControllerRecord, magnets []magnet.Magnet, r consent.Retention, host consent.Hosting) []Activity {
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

func securityMeasures(host consent.Hosting) []string {
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
func pageOf(host consent.Hosting, path string) string { return host.BaseURL + path }

// writeRecords prints rec as text.
func writeRecords(w io.Writer, rec Records) error {
	var b strings.Builder
	line := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	list := func(indent string, items []string) {
		for _, it := range items {
			line("%s- %s", indent, it)
		}
	}
	line("RECORD OF PROCESSING ACTIVITIES (UK GDPR Article 30)")
	line("Generated from the configuration; data kept in: %s", rec.Hosting)
	for _, c := range rec.Controllers {
		line("")
		line("Controller: %s", c.Details)
		line("  Contact about data: %s", strings.Join(c.Contacts, ", "))
		if len(c.DPOs) > 0 {
			line("  Data protection officer: %s", strings.Join(c.DPOs, "; "))
		}
		line("  Magnets: %s", strings.Join(c.Magnets, ", "))
		for _, a := range c.Activities {
			line("")
			line("  Activity: %s [%s]", a.Name, a.Purpose)
			line("    Basis: %s", a.Basis)
			if len(a.Magnets) > 0 {
				line("    Magnets: %s", strings.Join(a.Magnets, ", "))
			}
			line("    Data subjects: %s", strings.Join(a.DataSubjects, "; "))
			line("    Personal data: %s", strings.Join(a.Data, "; "))
			line("    Recipients: %s", strings.Join(a.Recipients, "; "))
			line("    Retention: %s", a.Retention)
		}
	}
	line("")
	line("Processors:")
	if len(rec.Processors) == 0 {
		line("  - none")
	}
	for _, p := range rec.Processors {
		line("  - %s: %s", p.Name, p.Does)
	}
	line("")
	line("Transfers: %s", rec.Transfers)
	line("")
	line("Retention (unconfirmed %d days, evidence %d days, withdrawn %d days):", rec.Retention.UnconfirmedDays, rec.Retention.EvidenceDays, rec.Retention.WithdrawnDays)
	list("  ", rec.Retention.Rules)
	line("")
	line("Security measures:")
	list("  ", rec.Security)
	line("")
	line("Data subjects' rights, and how they are met:")
	list("  ", rec.Rights)
	line("")
	line("Complaints: %s", rec.Complaints)
	line("")
	line("PRIVACY-NOTICE FACTS")
	for _, n := range rec.Notices {
		line("")
		line("Magnet %s (%s)", n.Magnet, n.Title)
		line("  Controller: %s", n.Controller)
		line("  Contact: %s", n.Contact)
		if n.DPO != "" {
			line("  DPO: %s", n.DPO)
		}
		line("  Privacy policy: %s", n.PrivacyPolicyURL)
		line("  Notice version: %s", n.NoticeVersion)
		line("  Full notice: %s", n.NoticeURL)
		line("  Short notice: %s", n.Short)
	}
	if len(rec.Notes) > 0 {
		line("")
		line("Notes:")
		list("  ", rec.Notes)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

var recordsPage = template.Must(template.New("records").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Record of processing activities</title>
<style>
  body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, Arial, sans-serif; color: #1a1a1a; line-height: 1.5; max-width: 60rem; margin: 0 auto; padding: 2rem 1rem; }
  th { text-align: left; vertical-align: top; padding-right: 1rem; white-space: nowrap; }
  td { vertical-align: top; }
  pre { white-space: pre-wrap; background: #f6f6f6; padding: 1rem; }
</style>
</head>
<body>
<h1>Record of processing activities (UK GDPR Article 30)</h1>
<p>Generated from the configuration. Data kept in: {{.Hosting}}.</p>
{{range .Controllers}}
<h2>Controller: {{.Name}}</h2>
<p>{{.Details}}</p>
<p>Contact about data: {{range $i, $c := .Contacts}}{{if $i}}, {{end}}{{$c}}{{end}}{{if .DPOs}}<br>Data protection officer: {{range $i, $d := .DPOs}}{{if $i}}; {{end}}{{$d}}{{end}}{{end}}<br>Magnets: {{range $i, $m := .Magnets}}{{if $i}}, {{end}}{{$m}}{{end}}</p>
{{range .Activities}}
<h3>{{.Name}} <small>({{.Purpose}})</small></h3>
<table>
<tr><th scope="row">Basis</th><td>{{.Basis}}</td></tr>
{{if .Magnets}}<tr><th scope="row">Magnets</th><td>{{range $i, $m := .Magnets}}{{if $i}}, {{end}}{{$m}}{{end}}</td></tr>{{end}}
<tr><th scope="row">Data subjects</th><td>{{range $i, $s := .DataSubjects}}{{if $i}}; {{end}}{{$s}}{{end}}</td></tr>
<tr><th scope="row">Personal data</th><td>{{range $i, $d := .Data}}{{if $i}}; {{end}}{{$d}}{{end}}</td></tr>
<tr><th scope="row">Recipients</th><td>{{range $i, $r := .Recipients}}{{if $i}}; {{end}}{{$r}}{{end}}</td></tr>
<tr><th scope="row">Retention</th><td>{{.Retention}}</td></tr>
</table>
{{end}}
{{end}}
<h2>Processors</h2>
<ul>{{range .Processors}}<li>{{.Name}}: {{.Does}}</li>{{else}}<li>none</li>{{end}}</ul>
<h2>Transfers</h2>
<p>{{.Transfers}}</p>
<h2>Retention</h2>
<ul>{{range .Retention.Rules}}<li>{{.}}</li>{{end}}</ul>
<h2>Security measures</h2>
<ul>{{range .Security}}<li>{{.}}</li>{{end}}</ul>
<h2>Data subjects' rights</h2>
<ul>{{range .Rights}}<li>{{.}}</li>{{end}}</ul>
<h2>Complaints</h2>
<p>{{.Complaints}}</p>
<h1>Privacy-notice facts</h1>
{{range .Notices}}
<h2>{{.Title}} <small>({{.Magnet}})</small></h2>
<table>
<tr><th scope="row">Controller</th><td>{{.Controller}}</td></tr>
<tr><th scope="row">Contact</th><td>{{.Contact}}</td></tr>
{{if .DPO}}<tr><th scope="row">DPO</th><td>{{.DPO}}</td></tr>{{end}}
<tr><th scope="row">Privacy policy</th><td>{{.PrivacyPolicyURL}}</td></tr>
<tr><th scope="row">Notice version</th><td>{{.NoticeVersion}}</td></tr>
<tr><th scope="row">Full notice</th><td>{{.NoticeURL}}</td></tr>
<tr><th scope="row">Short notice</th><td>{{.Short}}</td></tr>
</table>
<pre>{{.Text}}</pre>
{{end}}
{{if .Notes}}<h2>Notes</h2>
<ul>{{range .Notes}}<li>{{.}}</li>{{end}}</ul>{{end}}
</body>
</html>
`))
