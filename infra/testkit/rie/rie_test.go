package rie_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/unbundled/unbundled/infra/testkit/rie"
	"github.com/unbundled/unbundled/shared/consent"
	"github.com/unbundled/unbundled/shared/magnet"
)

// These tests run the bootstraps `sam build` produced, each under the AWS
// Lambda Runtime Interface Emulator, against moto and aws-ses-v2-local, and
// drive them with API Gateway HTTP API (payload v2) events: the deployed
// code path end to end, on this machine.

var (
	summaryMu sync.Mutex
	summary   []string // figures printed after the tests, also without -v
)

func report(t *testing.T, format string, args ...any) {
	t.Helper()
	line := fmt.Sprintf(format, args...)
	t.Log(line)
	summaryMu.Lock()
	summary = append(summary, line)
	summaryMu.Unlock()
}

// reportVar names a file that receives the figures too: go test shows a
// passing package's output only with -v, so `make test` prints this file.
const reportVar = "UNBUNDLED_RIE_REPORT"

func TestMain(m *testing.M) {
	reportFile := os.Getenv(reportVar)
	if reportFile != "" {
		_ = os.Remove(reportFile) // never show figures of an earlier run
	}
	code := m.Run()
	summaryMu.Lock()
	defer summaryMu.Unlock()
	if len(summary) == 0 {
		os.Exit(code)
	}
	var b strings.Builder
	b.WriteString("infra/testkit/rie: Lambda bootstraps under the runtime interface emulator\n")
	for _, line := range summary {
		b.WriteString("  " + line + "\n")
	}
	fmt.Print(b.String())
	if reportFile != "" {
		if err := os.WriteFile(reportFile, []byte(b.String()), 0o644); err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", reportVar, err)
			code = 1
		}
	}
	os.Exit(code)
}

// smokeEvents are harmless events for functions without HTTP routes: an
// invocation makes them run their init, which must succeed.
var smokeEvents = map[string]string{
	"DynamoDB":   `{"Records":[]}`,
	"SQS":        `{"Records":[]}`,
	"SNS":        `{"Records":[]}`,
	"Schedule":   `{}`,
	"ScheduleV2": `{}`,
}

func TestFunctionsUnderRuntimeEmulator(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: needs the sam build output, the runtime emulator and moto; `make test` runs this test")
	}
	began := time.Now()
	s := startStack(t)
	report(t, "stack (moto, aws-ses-v2-local, table and secrets, %d emulators) ready in %v", len(s.functions), time.Since(began).Round(time.Millisecond))
	m := s.catalog.All()[0]

	const ann = "Ann.Lambda@Example.com" // typed with capitals: one subscriber however it is typed
	const annName = "Annwyl Quennell"    // distinctive, so the log check below can look for it
	annAddr := strings.ToLower(ann)
	var unsubscribe string // the List-Unsubscribe link's path and query

	t.Run("sign-up with consent", func(t *testing.T) {
		r := s.request(t, request{
			fixture: "signup_form.json", method: "POST", target: "/signup",
			form:   url.Values{"email": {ann}, "name": {annName}, "magnet": {m.ID}, "marketing_consent": {"yes"}},
			header: map[string]string{"origin": landingOrigin(m)},
		})
		if r.status != http.StatusSeeOther {
			t.Fatalf("status: got %d, want 303\n%s", r.status, r.body)
		}
		wantLocation := m.ThankYouURL
		if wantLocation == "" {
			// Absolute, so it also works behind a base URL with a path prefix.
			wantLocation = s.baseURL + "/thanks?magnet=" + url.QueryEscape(m.ID)
			if m.RequiresConfirmation() {
				wantLocation += "&confirm=1" // the box was ticked: the page asks to confirm
			}
		}
		if got := r.header.Get("Location"); got != wantLocation {
			t.Errorf("Location: got %q, want %q", got, wantLocation)
		}
		if strings.HasPrefix(wantLocation, s.baseURL+"/") {
			thanks := s.relative(t, wantLocation)
			if th := s.request(t, request{fixture: "page_get.json", method: "GET", target: thanks}); th.status != http.StatusOK || !strings.Contains(th.body, m.Title) {
				t.Errorf("GET %s: got %d, want 200 naming %q", thanks, th.status, m.Title)
			}
		}

		events := s.ledger(t, ann)
		if got, want := eventTypes(events), "signup,granted"; got != want {
			t.Fatalf("ledger: got %s, want %s", got, want)
		}
		for _, e := range events {
			checkEvidence(t, e, r.requestID)
		}
		if e := events[0]; e.Email != annAddr || e.Magnet != m.ID || e.Method != consent.MethodForm {
			t.Errorf("signup: got email %q magnet %q method %q, want %q %q %q", e.Email, e.Magnet, e.Method, annAddr, m.ID, consent.MethodForm)
		}
		if g := events[1]; g.Method != "checkbox" || g.Wording != m.ConsentWording || g.Frequency != m.Frequency {
			t.Errorf("granted: got method %q wording %q frequency %q, want checkbox, the magnet's wording and %q", g.Method, g.Wording, g.Frequency, m.Frequency)
		}

		mails := s.mailTo(t, annAddr)
		if len(mails) != 1 {
			t.Fatalf("SES emulator holds %d emails to %s, want 1 (the freebie)", len(mails), annAddr)
		}
		freebie := mails[0]
		if !strings.Contains(freebie.From, m.SenderEmail) {
			t.Errorf("From: got %q, want the magnet's sender %s", freebie.From, m.SenderEmail)
		}
		if download := s.resolve(m.DownloadURL); !strings.Contains(freebie.Body.Text, download) || !strings.Contains(freebie.Body.HTML, download) {
			t.Errorf("freebie lacks the download link %s", download)
		}
		list, _ := freebie.Header("List-Unsubscribe")
		if !strings.HasPrefix(list, "<"+s.baseURL+"/unsubscribe?t=") || !strings.HasSuffix(list, ">") || strings.Count(list, "<") != 1 {
			t.Fatalf("List-Unsubscribe: got %q, want exactly one <%s/unsubscribe?t=…>", list, s.baseURL)
		}
		if got, _ := freebie.Header("List-Unsubscribe-Post"); got != "List-Unsubscribe=One-Click" {
			t.Errorf("List-Unsubscribe-Post: got %q, want List-Unsubscribe=One-Click", got)
		}
		if got, ok := freebie.Header("List-Id"); !ok || !strings.Contains(got, m.ID) {
			t.Errorf("List-Id: got %q, want one naming %s", got, m.ID)
		}
		unsubscribe = s.relative(t, strings.Trim(list, "<>"))
	})
	if unsubscribe == "" {
		t.Fatal("no unsubscribe link: the remaining steps depend on it")
	}

	if m.RequiresConfirmation() {
		t.Run("double opt-in confirmation", func(t *testing.T) {
			confirm := s.relative(t, linkIn(t, s.mailTo(t, annAddr)[0].Body.Text, s.baseURL+"/confirm?t="))
			before := eventTypes(s.ledger(t, ann))
			for _, method := range []string{"GET", "HEAD"} {
				if r := s.request(t, request{fixture: "page_get.json", method: method, target: confirm}); r.status != http.StatusOK {
					t.Errorf("%s confirm link: got %d, want 200", method, r.status)
				}
			}
			if got := eventTypes(s.ledger(t, ann)); got != before {
				t.Fatalf("GET/HEAD of the confirm link changed the ledger: got %s, want %s", got, before)
			}
			r := s.request(t, request{fixture: "page_button_post.json", method: "POST", target: confirm, header: map[string]string{"origin": s.origin()}})
			if r.status != http.StatusOK {
				t.Fatalf("confirm button: got %d, want 200\n%s", r.status, r.body)
			}
			events := s.ledger(t, ann)
			if got, want := eventTypes(events), before+",confirmed"; got != want {
				t.Fatalf("ledger after confirming: got %s, want %s", got, want)
			}
			checkEvidence(t, events[len(events)-1], r.requestID)
			if got := len(s.mailTo(t, annAddr)); got != 2 {
				t.Errorf("emails to %s after confirming: got %d, want 2 (freebie, consent receipt)", annAddr, got)
			}
		})
	}

	t.Run("unsubscribe page writes nothing", func(t *testing.T) {
		before := eventTypes(s.ledger(t, ann))
		for _, method := range []string{"GET", "HEAD"} {
			r := s.request(t, request{fixture: "page_get.json", method: method, target: unsubscribe})
			if r.status != http.StatusOK {
				t.Errorf("%s %s: got %d, want 200", method, "/unsubscribe", r.status)
			}
			if r.function != "UnsubscribeFunction" {
				t.Errorf("%s /unsubscribe served by %s, want UnsubscribeFunction", method, r.function)
			}
			if got := r.header.Get("X-Content-Type-Options"); got != "nosniff" {
				t.Errorf("%s /unsubscribe: X-Content-Type-Options got %q, want nosniff (security headers through the adapter)", method, got)
			}
		}
		if got := eventTypes(s.ledger(t, ann)); got != before {
			t.Fatalf("ledger after GET/HEAD: got %s, want %s (unchanged)", got, before)
		}
	})

	t.Run("one-click unsubscribe withdraws", func(t *testing.T) {
		before := s.ledger(t, ann)
		r := s.request(t, request{fixture: "unsubscribe_one_click.json", method: "POST", target: unsubscribe})
		if r.status != http.StatusOK {
			t.Fatalf("one-click POST: got %d, want 200 (never a redirect)\n%s", r.status, r.body)
		}
		events := s.ledger(t, ann)
		if got, want := eventTypes(events), eventTypes(before)+",withdrawn"; got != want {
			t.Fatalf("ledger: got %s, want %s", got, want)
		}
		w := events[len(events)-1]
		checkEvidence(t, w, r.requestID)
		if w.Method != "one-click" {
			t.Errorf("withdrawn method: got %q, want one-click", w.Method)
		}
		// A replay (mail providers retry) is answered the same and adds nothing.
		if r := s.request(t, request{fixture: "unsubscribe_one_click.json", method: "POST", target: unsubscribe}); r.status != http.StatusOK {
			t.Errorf("replayed one-click: got %d, want 200", r.status)
		}
		if got := eventTypes(s.ledger(t, ann)); got != eventTypes(events) {
			t.Errorf("ledger after a replay: got %s, want %s", got, eventTypes(events))
		}
	})

	const bob = "bob.lambda@example.com"
	t.Run("sign-up without consent", func(t *testing.T) {
		r := s.request(t, request{
			fixture: "signup_form.json", method: "POST", target: "/signup",
			form:   url.Values{"email": {bob}, "magnet": {m.ID}},
			header: map[string]string{"origin": landingOrigin(m)},
		})
		if r.status != http.StatusSeeOther {
			t.Fatalf("status: got %d, want 303\n%s", r.status, r.body)
		}
		if got := eventTypes(s.ledger(t, bob)); got != "signup" {
			t.Errorf("ledger: got %s, want signup", got)
		}
		mails := s.mailTo(t, bob)
		if len(mails) != 1 {
			t.Fatalf("SES emulator holds %d emails to %s, want 1 (the freebie)", len(mails), bob)
		}
		for _, h := range []string{"List-Unsubscribe", "List-Unsubscribe-Post", "List-Id"} {
			if v, ok := mails[0].Header(h); ok {
				t.Errorf("freebie without consent has %s: %q", h, v)
			}
		}
		for _, link := range []string{"/unsubscribe?t=", "/confirm?t="} {
			if strings.Contains(mails[0].Body.Text, link) || strings.Contains(mails[0].Body.HTML, link) {
				t.Errorf("freebie without consent links to %s", link)
			}
		}
	})

	t.Run("the operator's IAM-authorised may-email", func(t *testing.T) {
		r := s.request(t, request{
			fixture: "admin_iam.json", method: "POST", target: "/admin/may-email",
			body: `{"addresses":["` + ann + `","` + bob + `"]}`,
		})
		if r.status != http.StatusOK || r.function != "AdminFunction" {
			t.Fatalf("POST /admin/may-email: got %d from %s, want 200 from AdminFunction\n%s", r.status, r.function, r.body)
		}
		var got struct {
			Decisions []struct {
				Address, Basis, Reason string
				Allowed                bool
			}
		}
		if err := json.Unmarshal([]byte(r.body), &got); err != nil {
			t.Fatal(err)
		}
		if len(got.Decisions) != 2 || got.Decisions[0].Allowed || !strings.HasPrefix(got.Decisions[0].Reason, "withdrawn ") ||
			got.Decisions[1].Basis != "none" || !strings.HasPrefix(got.Decisions[1].Reason, "no consent recorded") {
			t.Errorf("decisions: got %+v, want ann withdrawn (one-click) and bob never consented", got.Decisions)
		}
	})

	t.Run("the operator's IAM-authorised import", func(t *testing.T) {
		const erin = "erin.lambda@corp.example"
		const caller = "arn:aws:sts::123456789012:assumed-role/unbundled-operator/operator" // admin_iam.json's userArn
		r := s.request(t, request{
			fixture: "admin_iam.json", method: "POST",
			target: "/admin/import?file=contacts.csv&origin=business_contacts&source=" + url.QueryEscape("trade show 2026, badge scans"),
			body:   "email,basis,organisation,company_number,role,lia_reference\n" + erin + ",corporate,Corp Ltd,01234567,Head of Compliance,LIA-2026-01\n",
			header: map[string]string{"content-type": "text/csv"},
		})
		if r.status != http.StatusOK || r.function != "AdminFunction" {
			t.Fatalf("POST /admin/import: got %d from %s, want 200 from AdminFunction\n%s", r.status, r.function, r.body)
		}
		var rep consent.ImportReport
		if err := json.Unmarshal([]byte(r.body), &rep); err != nil {
			t.Fatal(err)
		}
		if rep.Imported != 1 || rep.Operator != caller {
			t.Errorf("report: got %+v, want 1 imported by the IAM caller %s", rep, caller)
		}
		events := s.ledger(t, erin)
		if len(events) != 1 || events[0].Type != consent.EventImported || events[0].Basis != consent.BasisCorporate || events[0].Import.Operator != caller {
			t.Errorf("ledger: got %+v, want one corporate import recorded by %s", events, caller)
		}
	})

	t.Run("the operator's IAM-authorised proof, export and erase", func(t *testing.T) {
		for _, step := range []struct{ target, body, want string }{
			{"/admin/proof", `{"address":"` + ann + `"}`, annName},
			{"/admin/proof?format=html", `{"address":"` + ann + `"}`, "<html"},
			{"/admin/export", `{"address":"` + bob + `"}`, `"email":"` + bob + `"`},
			{"/admin/erase", `{"addresses":["` + bob + `"],"reason":"erasure request by letter"}`, "tombstone"},
		} {
			r := s.request(t, request{fixture: "admin_iam.json", method: "POST", target: step.target, body: step.body})
			if r.status != http.StatusOK || r.function != "AdminFunction" || !strings.Contains(r.body, step.want) {
				t.Errorf("POST %s: got %d from %s, want 200 from AdminFunction containing %q\n%.400s", step.target, r.status, r.function, step.want, r.body)
			}
		}
		if events := s.ledger(t, bob); len(events) != 0 {
			t.Errorf("bob's ledger after erasure: %d events, want none", len(events))
		}
	})

	t.Run("links from the API domain without PUBLIC_BASE_URL", func(t *testing.T) {
		const carol = "carol.lambda@example.com"
		fn := s.routes["POST /signup"]
		p := s.start(t, s.function(t, fn), fn+"-no-base-url", map[string]string{"PUBLIC_BASE_URL": ""})
		r := s.invoke(t, p, request{
			fixture: "signup_form.json", method: "POST", target: "/signup",
			form:   url.Values{"email": {carol}, "magnet": {m.ID}, "marketing_consent": {"yes"}},
			header: map[string]string{"origin": landingOrigin(m)},
		})
		if r.status != http.StatusSeeOther {
			t.Fatalf("status: got %d, want 303\n%s", r.status, r.body)
		}
		mails := s.mailTo(t, carol)
		if len(mails) != 1 {
			t.Fatalf("SES emulator holds %d emails to %s, want 1", len(mails), carol)
		}
		want := "<https://a1b2c3d4e5.execute-api.eu-west-2.amazonaws.com/unsubscribe?t=" // the fixture's requestContext.domainName
		if got, _ := mails[0].Header("List-Unsubscribe"); !strings.HasPrefix(got, want) {
			t.Errorf("List-Unsubscribe: got %q, want it to start with %s", got, want)
		}
	})

	t.Run("every route answers from its function", func(t *testing.T) {
		var routes []string
		for r := range s.routes {
			routes = append(routes, r)
		}
		sort.Strings(routes)
		for _, route := range routes {
			method, path, _ := strings.Cut(route, " ")
			r := s.request(t, request{fixture: "page_get.json", method: method, target: path})
			if r.status == http.StatusNotFound || r.status == http.StatusMethodNotAllowed || r.status >= 500 {
				t.Errorf("%s (routed to %s): got %d, want an answer from the handler", route, r.function, r.status)
			}
		}
	})

	t.Run("functions without routes initialise", func(t *testing.T) {
		for _, fn := range s.functions {
			if len(fn.Routes) > 0 {
				continue
			}
			if len(fn.OtherEvents) == 0 {
				t.Errorf("%s has no events: nothing would invoke it", fn.Name)
				continue
			}
			ev, ok := smokeEvents[fn.OtherEvents[0]]
			if !ok {
				t.Errorf("%s: no smoke event for event type %s: add one to smokeEvents in infra/testkit/rie", fn.Name, fn.OtherEvents[0])
				continue
			}
			began := time.Now()
			if _, err := s.procs[fn.Name].Invoke(t.Context(), []byte(ev)); err != nil {
				t.Errorf("%s with %s: %v\n%s", fn.Name, ev, err, s.procs[fn.Name].Logs())
			}
			s.recordInvoke(fn.Name, time.Since(began))
		}
	})

	t.Run("function logs are JSON without personal data", func(t *testing.T) {
		logs := s.functionLog(t)
		for _, secret := range []string{annAddr, ann, annName, bob, sourceIP, strings.TrimPrefix(unsubscribe, "/unsubscribe?t=")} {
			if strings.Contains(logs, secret) {
				t.Errorf("function logs contain %q", secret)
			}
		}
		for _, key := range s.secrets {
			if strings.Contains(logs, key) {
				t.Errorf("function logs contain key material from the stack's secrets")
			}
		}
		for _, line := range strings.Split(logs, "\n") {
			if line == "" || rieLine(line) {
				continue
			}
			if !json.Valid([]byte(line)) {
				t.Errorf("function log line is not JSON: %.200s", line)
			}
		}
	})

	for _, fn := range s.functions {
		p := s.procs[fn.Name]
		line, d, ok := p.InitReport()
		if !ok {
			t.Errorf("%s: no INIT REPORT in the emulator's log (never invoked?)", fn.Name)
			continue
		}
		fi, err := os.Stat(filepath.Join(s.buildDir, fn.Name, "bootstrap"))
		if err != nil {
			t.Fatal(err)
		}
		report(t, "%-20s init %7.2f ms  bootstrap %9d bytes (%.1f MiB)  %s",
			fn.Name, float64(d)/float64(time.Millisecond), fi.Size(), float64(fi.Size())/(1<<20), invokeFigures(s.invokes[fn.Name]))
		t.Logf("%s: %s", fn.Name, strings.TrimSpace(line))
	}
	report(t, "whole test %v", time.Since(began).Round(time.Millisecond))
}

// checkEvidence checks what API Gateway told the function is what the
// ledger recorded.
func checkEvidence(t *testing.T, e consent.Event, requestID string) {
	t.Helper()
	if e.SourceIP != sourceIP {
		t.Errorf("%s source_ip: got %q, want %q (requestContext.http.sourceIp, never X-Forwarded-For)", e.Type, e.SourceIP, sourceIP)
	}
	if e.RequestID != requestID {
		t.Errorf("%s request_id: got %q, want the API Gateway request id %q", e.Type, e.RequestID, requestID)
	}
	if e.UserAgent == "" || e.At.IsZero() {
		t.Errorf("%s: got user agent %q and time %v, want both recorded", e.Type, e.UserAgent, e.At)
	}
}

// landingOrigin is the Origin a browser sends when posting the magnet's
// landing-page form ("" removes the fixture's Origin if none is allowed).
func landingOrigin(m magnet.Magnet) string {
	if len(m.AllowedOrigins) == 0 {
		return ""
	}
	return m.AllowedOrigins[0]
}

// origin is the origin of pages served under PUBLIC_BASE_URL.
func (s *stack) origin() string {
	u, err := url.Parse(s.baseURL)
	if err != nil {
		return ""
	}
	return u.Scheme + "://" + u.Host
}

// resolve makes a magnet link absolute as emails show it.
func (s *stack) resolve(link string) string {
	if strings.HasPrefix(link, "/") {
		return s.baseURL + link
	}
	return link
}

// linkIn returns the first link in text that starts with prefix.
func linkIn(t *testing.T, text, prefix string) string {
	t.Helper()
	i := strings.Index(text, prefix)
	if i < 0 {
		t.Fatalf("no %s… link in:\n%s", prefix, text)
	}
	return strings.TrimRight(strings.Fields(text[i:])[0], ".,;:)>\"'")
}

// rieLine reports whether a line of function output is the emulator's own
// (START/END/REPORT per invocation).
func rieLine(line string) bool {
	for _, p := range []string{"START RequestId:", "END RequestId:", "REPORT RequestId:"} {
		if strings.HasPrefix(line, p) {
			return true
		}
	}
	return false
}

func invokeFigures(ds []time.Duration) string {
	if len(ds) == 0 {
		return "no invocations"
	}
	sorted := slices.Clone(ds)
	slices.Sort(sorted)
	var total time.Duration
	for _, d := range ds {
		total += d
	}
	return fmt.Sprintf("%d invocations: first %v, median %v, max %v",
		len(ds), ds[0].Round(100*time.Microsecond), sorted[len(sorted)/2].Round(100*time.Microsecond), sorted[len(sorted)-1].Round(100*time.Microsecond))
}

func TestParseInitReport(t *testing.T) {
	tests := []struct {
		line   string
		want   time.Duration
		wantOK bool
	}{
		{"28 Nov 2026 17:37:07,249 [INFO] (rapid) INIT REPORT(durationMs: 35.285000)", 35285 * time.Microsecond, true},
		{"INIT REPORT(durationMs: 0.034000)", 34 * time.Microsecond, true},
		{"28 Nov 2026 17:37:07,214 [INFO] (rapid) INIT START(type: on-demand, phase: init)", 0, false},
		{"", 0, false},
	}
	for _, tc := range tests {
		_, got, ok := rie.ParseInitReport(tc.line)
		if got != tc.want || ok != tc.wantOK {
			t.Errorf("ParseInitReport(%q): got %v, %v; want %v, %v", tc.line, got, ok, tc.want, tc.wantOK)
		}
	}
}

const sampleTemplate = `
Globals:
  Function:
    Timeout: 10
    MemorySize: 256
    Environment:
      Variables:
        TABLE_NAME: !Ref Table
        LOG_LEVEL: INFO
Resources:
  Table:
    Type: AWS::DynamoDB::Table
  Web:
    Type: AWS::Serverless::Function
    Properties:
      MemorySize: 512
      Environment:
        Variables:
          EXTRA: x
      Events:
        Get:
          Type: HttpApi
          Properties: {ApiId: !Ref Api, Method: get, Path: /page}
        Stream:
          Type: DynamoDB
          Properties:
            Stream: !GetAtt Table.StreamArn
            BatchSize: 10
            FilterCriteria:
              Filters:
                - Pattern: '{"eventName": ["INSERT"]}'
  Cron:
    Type: AWS::Serverless::Function
    Properties:
      Timeout: !Ref Seconds
      Events:
        Tick: {Type: ScheduleV2, Properties: {ScheduleExpression: rate(5 minutes)}}
`

func TestFunctions(t *testing.T) {
	fns, err := rie.Functions([]byte(sampleTemplate))
	if err != nil {
		t.Fatal(err)
	}
	got, _ := json.Marshal(fns)
	want := `[{"Name":"Cron","Routes":null,"OtherEvents":["ScheduleV2"],"Streams":null,"Timeout":0,"MemorySize":256,"EnvNames":["LOG_LEVEL","TABLE_NAME"]},` +
		`{"Name":"Web","Routes":["GET /page"],"OtherEvents":["DynamoDB"],"Streams":[{"BatchSize":10,"Filters":["{\"eventName\": [\"INSERT\"]}"]}],` +
		`"Timeout":10,"MemorySize":512,"EnvNames":["EXTRA","LOG_LEVEL","TABLE_NAME"]}]`
	if string(got) != want {
		t.Errorf("Functions:\n got %s\nwant %s", got, want)
	}

	for _, bad := range []string{
		"Resources:\n  F:\n    Type: AWS::Serverless::Function\n    Properties:\n      Events:\n        E: {Type: HttpApi, Properties: {Path: /x}}\n",
		"Outputs: {}\n",
		"",
	} {
		if _, err := rie.Functions([]byte(bad)); err == nil {
			t.Errorf("Functions(%q): got nil error, want one", bad)
		}
	}
}

func TestEnv(t *testing.T) {
	fn := rie.Function{Name: "Web", EnvNames: []string{"A", "B", "C"}}
	tests := []struct {
		name        string
		file        string
		want        map[string]string
		wantUnknown []string
	}{
		{"parameters", `{"Parameters":{"A":"1","B":"2"}}`, map[string]string{"A": "1", "B": "2"}, nil},
		{"function section wins", `{"Parameters":{"A":"1"},"Web":{"A":"9","C":"3"},"Other":{"B":"x"}}`, map[string]string{"A": "9", "C": "3"}, nil},
		{"undeclared dropped", `{"Parameters":{"A":"1","Z":"26"}}`, map[string]string{"A": "1"}, []string{"Z"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, unknown, err := rie.Env([]byte(tc.file), fn)
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) || fmt.Sprint(unknown) != fmt.Sprint(tc.wantUnknown) {
				t.Errorf("got %v, unknown %v; want %v, unknown %v", got, unknown, tc.want, tc.wantUnknown)
			}
		})
	}
	if _, _, err := rie.Env([]byte(`{"Parameters":{"A":1}}`), fn); err == nil {
		t.Error("Env with a number value: got nil error, want one")
	}
}
