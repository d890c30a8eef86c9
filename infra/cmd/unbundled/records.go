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
	"strings"

	"github.com/unbundled/unbundled/shared/config"
	"github.com/unbundled/unbundled/shared/consent"
	"github.com/unbundled/unbundled/shared/magnet"
)

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
	rec := consent.BuildRecords(catalog, policy, host)
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

// writeRecords prints rec as text.
func writeRecords(w io.Writer, rec consent.Records) error {
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
