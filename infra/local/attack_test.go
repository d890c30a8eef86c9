package main_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/unbundled/unbundled/shared/web"
)

// The attack suite drives the real server binary the way an abuser would:
// email bombing one address through fresh Idempotency-Keys, flooding from one
// source, bots on our forms, cross-site posts, ambiguous bodies, hostile
// addresses and names, attempts to demote confirmed consent, tampered link
// tokens and contention between sign-ups and unsubscribes. Each scenario runs
// on its own fresh server (its own data directory and flags, so per-server
// limits never leak between scenarios) and adds rows to a table that is
// printed at the end; a row that misses its expectation fails the test.
// Traffic goes to 127.0.0.1 only, every request has a deadline.

// attackMagnet is the magnet of infra/local/magnets.json.
const attackMagnet = "uk-gdpr-checklist"

// attackRequestTimeout bounds every request the suite sends.
const attackRequestTimeout = 30 * time.Second

// attackClient never follows redirects (a 303 is an answer to check), never
// uses a proxy, and keeps enough idle connections for the contention scenario.
var attackClient = &http.Client{
	Timeout:       attackRequestTimeout,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	Transport: &http.Transport{
		Proxy:               nil,
		MaxIdleConnsPerHost: 64,
		IdleConnTimeout:     30 * time.Second,
	},
}

// attackNames are distinctive valid names, so the log check can look for them.
var attackNames = []string{"Zephyrine", "Oswaldo Quimby", "Marisol Vantongeren", "J.R.R. Quillfeather", "Ione Blackwater-Smythe", "Thaddeus O’Rourke"}

// attackTarget is a server under attack, with the suite's request helpers.
type attackTarget struct{ *server }

// attackHeaders are extra request headers.
type attackHeaders map[string]string

// attackAnswer is a response, read whole (up to 1 MiB).
type attackAnswer struct {
	status int
	header http.Header
	body   string
}

// send makes one request with extra headers and returns its answer or the
// transport error. Safe to call from any goroutine.
func (s *attackTarget) send(method, path, contentType, body string, h attackHeaders) (attackAnswer, error) {
	ctx, cancel := context.WithTimeout(context.Background(), attackRequestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, s.base+path, strings.NewReader(body))
	if err != nil {
		return attackAnswer{}, err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for k, v := range h {
		req.Header.Set(k, v)
	}
	resp, err := attackClient.Do(req)
	if err != nil {
		return attackAnswer{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return attackAnswer{}, fmt.Errorf("read answer: %w", err)
	}
	return attackAnswer{status: resp.StatusCode, header: resp.Header, body: string(b)}, nil
}

// must is send for the test goroutine: a transport error fails the test.
func (s *attackTarget) must(t *testing.T, method, path, contentType, body string, h attackHeaders) attackAnswer {
	t.Helper()
	a, err := s.send(method, path, contentType, body, h)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	return a
}

// attackEvent is an event of /_local/ledger.json with the fields the suite
// needs (the shared event type has no seq or delivery).
type attackEvent struct {
	Seq      int    `json:"seq"`
	Type     string `json:"type"`
	Magnet   string `json:"magnet"`
	Email    string `json:"email"`
	Name     string `json:"name"`
	Method   string `json:"method"`
	Delivery string `json:"delivery"`
}

// events returns email's ledger and its raw JSON.
func (s *attackTarget) events(t *testing.T, email string) ([]attackEvent, string) {
	t.Helper()
	a := s.must(t, "GET", "/_local/ledger.json?email="+url.QueryEscape(email), "", "", nil)
	if a.status != http.StatusOK {
		t.Fatalf("ledger.json for %q: %d %s", email, a.status, a.body)
	}
	var got []attackEvent
	if err := json.Unmarshal([]byte(a.body), &got); err != nil {
		t.Fatalf("ledger.json: %v: %s", err, a.body)
	}
	return got, a.body
}

// stateOf returns email's consent state for magnetID from /_local/status.json.
func (s *attackTarget) stateOf(t *testing.T, email, magnetID string) string {
	t.Helper()
	a := s.must(t, "GET", "/_local/status.json?email="+url.QueryEscape(email), "", "", nil)
	var got []status
	if err := json.Unmarshal([]byte(a.body), &got); err != nil {
		t.Fatalf("status.json: %v: %s", err, a.body)
	}
	for _, st := range got {
		if st.Magnet == magnetID {
			return st.State
		}
	}
	t.Fatalf("status.json has no magnet %s: %s", magnetID, a.body)
	return ""
}

// mailsTo counts the mailbox's messages to email (after the outbox drained).
func (s *attackTarget) mailsTo(t *testing.T, email string) int {
	t.Helper()
	n := 0
	for _, m := range s.mailbox(t) {
		if slices.Contains(m.To, email) {
			n++
		}
	}
	return n
}

// firstMailTo returns the first message to email.
func (s *attackTarget) firstMailTo(t *testing.T, email string) mail {
	t.Helper()
	for _, m := range s.mailbox(t) {
		if slices.Contains(m.To, email) {
			return m
		}
	}
	t.Fatalf("no mail to %s", email)
	return mail{}
}

// attackForm is an urlencoded sign-up body.
func attackForm(email, name, magnetID string, consent bool, extra ...string) string {
	v := url.Values{"email": {email}, "magnet": {magnetID}}
	if name != "" {
		v.Set("name", name)
	}
	if consent {
		v.Set("marketing_consent", "yes")
	}
	for i := 0; i+1 < len(extra); i += 2 {
		v.Set(extra[i], extra[i+1])
	}
	return v.Encode()
}

// attackJSON is a JSON sign-up body.
func attackJSON(email, name, magnetID string, consent bool, extra ...string) string {
	m := map[string]any{"email": email, "magnet": magnetID, "marketing_consent": consent}
	if name != "" {
		m["name"] = name
	}
	for i := 0; i+1 < len(extra); i += 2 {
		m[extra[i]] = extra[i+1]
	}
	b, err := json.Marshal(m)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// attackRetryAfter parses a Retry-After header in whole seconds.
func attackRetryAfter(h http.Header) (int, bool) {
	n, err := strconv.Atoi(h.Get("Retry-After"))
	return n, err == nil
}

const attackBase64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

// attackFlipLast changes tok's last character to the base64url character whose
// index differs by xor mask. For a 32-byte MAC the last character carries 4
// bits and 2 unused ones: masks 1-3 only touch the unused bits (a lenient
// decoder reads the same bytes), 4 and up change the MAC.
func attackFlipLast(tok string, mask int) string {
	i := strings.IndexByte(attackBase64URL, tok[len(tok)-1])
	if i < 0 {
		return tok[:len(tok)-1] + "A"
	}
	return tok[:len(tok)-1] + string(attackBase64URL[i^mask])
}

// attackToken returns the t parameter of a link path.
func attackToken(t *testing.T, path string) string {
	t.Helper()
	u, err := url.Parse(path)
	if err != nil || u.Query().Get("t") == "" {
		t.Fatalf("no token in %q", path)
	}
	return u.Query().Get("t")
}

var attackStampField = regexp.MustCompile(`name="form_stamp" value="([^"]+)"`)

// attackLandingForm fetches the landing page and returns the form stamp and
// consent version of its (first) form.
func attackLandingForm(t *testing.T, s *attackTarget) (stamp, version string) {
	t.Helper()
	a := s.must(t, "GET", "/", "", "", nil)
	m := attackStampField.FindStringSubmatch(a.body)
	v := versionField.FindStringSubmatch(a.body)
	if a.status != http.StatusOK || m == nil || v == nil {
		t.Fatalf("landing page: %d, want a form with form_stamp and consent_version:\n%s", a.status, a.body)
	}
	return m[1], v[1]
}

// attackMagnets writes a catalog of n copies of magnets.json's magnet, the
// first keeping its id, and returns its path.
func attackMagnets(t *testing.T, n int) (path string, ids []string) {
	t.Helper()
	data, err := os.ReadFile("magnets.json")
	if err != nil {
		t.Fatal(err)
	}
	var catalog struct {
		Magnets []map[string]any `json:"magnets"`
	}
	if err := json.Unmarshal(data, &catalog); err != nil || len(catalog.Magnets) == 0 {
		t.Fatalf("magnets.json: %v", err)
	}
	first := catalog.Magnets[0]
	catalog.Magnets = nil
	for i := range n {
		m := map[string]any{}
		for k, v := range first {
			m[k] = v
		}
		if i > 0 {
			m["id"] = fmt.Sprintf("%s-copy-%d", first["id"], i)
		}
		ids = append(ids, m["id"].(string))
		catalog.Magnets = append(catalog.Magnets, m)
	}
	out, err := json.Marshal(catalog)
	if err != nil {
		t.Fatal(err)
	}
	path = filepath.Join(t.TempDir(), "magnets.json")
	if err := os.WriteFile(path, out, 0o600); err != nil {
		t.Fatal(err)
	}
	return path, ids
}

// attackLog collects one server process's stderr. The process's Wait (in
// the server's cleanup) returns only after all of it has been written.
type attackLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *attackLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

// text returns the log written so far (all of it once the server stopped).
func (l *attackLog) text() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// attackRow is one line of the table.
type attackRow struct {
	scenario, measured, want string
	pass                     bool
}

// attackRun is one run of the suite against one store.
type attackRun struct {
	title string
	// store returns the flags that choose a fresh store for one server
	// (given before the scenario's own); nil: the default, a new SQLite
	// file in the server's data directory.
	store func(t *testing.T) []string
	// signups and unsubscribes are the contention scenario's request counts.
	signups, unsubscribes int

	mu      sync.Mutex
	rows    []attackRow
	logs    []*attackLog
	secrets []string // addresses and names sent, which no log may contain
}

// attackScenario is one scenario of the suite.
type attackScenario struct {
	name string
	run  func(a *attackRun, t *testing.T)
}

// attackScenarios run in this order; the DynamoDB variant picks some by name.
var attackScenarios = []attackScenario{
	{"email-cap", (*attackRun).emailCap},
	{"dedupe", (*attackRun).dedupe},
	{"source-limit", (*attackRun).sourceLimit},
	{"bot-traps", (*attackRun).botTraps},
	{"origin", (*attackRun).origin},
	{"strict-decoding", (*attackRun).strictDecoding},
	{"addresses", (*attackRun).addresses},
	{"names", (*attackRun).names},
	{"consent-never-backwards", (*attackRun).consentNeverBackwards},
	{"tampered-tokens", (*attackRun).tamperedTokens},
	{"contention", (*attackRun).contention},
	{"regressions", (*attackRun).regressions},
}

// runAttackSuite runs the named scenarios (all if none are named) on
// servers with the stores store gives, then checks every server's log and
// prints the table.
func runAttackSuite(t *testing.T, a *attackRun, only ...string) {
	started := time.Now()
	for _, sc := range attackScenarios {
		if len(only) > 0 && !slices.Contains(only, sc.name) {
			continue
		}
		t.Run(sc.name, func(t *testing.T) { sc.run(a, t) })
	}
	// Every scenario's server has stopped by now (start stops it when its
	// subtest ends), so the logs are complete.
	t.Run("logs", a.checkLogs)
	a.print(time.Since(started))
}

func TestAttackSuite(t *testing.T) {
	if testing.Short() {
		t.Skip("attack suite: about half a minute of hostile traffic; run by make attack and make test")
	}
	runAttackSuite(t, &attackRun{title: "attack suite (SQLite store)", signups: 200, unsubscribes: 20})
}

// row records a table row; one that misses its expectation fails t.
func (a *attackRun) row(t *testing.T, scenario, measured, want string, pass bool) {
	t.Helper()
	a.mu.Lock()
	a.rows = append(a.rows, attackRow{scenario, measured, want, pass})
	a.mu.Unlock()
	if !pass {
		t.Errorf("%s: got %s, want %s", scenario, measured, want)
	}
}

// secret registers addresses and names the suite sends: no server log may
// contain them.
func (a *attackRun) secret(values ...string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.secrets = append(a.secrets, values...)
}

// start starts a fresh server (own data directory and store) with extra
// flags, capturing its log for the log check. If the test fails, the
// server's warnings and errors are logged.
func (a *attackRun) start(t *testing.T, extra ...string) *attackTarget {
	t.Helper()
	var flags []string
	if a.store != nil {
		flags = a.store(t)
	}
	l := &attackLog{}
	a.mu.Lock()
	a.logs = append(a.logs, l)
	a.mu.Unlock()
	t.Cleanup(func() {
		// Runs after start's own cleanup has stopped the server.
		if !t.Failed() {
			return
		}
		text := l.text()
		var problems []string
		for _, line := range strings.Split(text, "\n") {
			if strings.Contains(line, `"level":"ERROR"`) || strings.Contains(line, `"level":"WARN"`) {
				problems = append(problems, line)
			}
		}
		if len(problems) > 20 {
			problems = append(problems[:20], fmt.Sprintf("… and %d more", len(problems)-20))
		}
		t.Logf("server log, warnings and errors:\n%s", strings.Join(problems, "\n"))
	})
	return &attackTarget{startLogging(t, t.TempDir(), l, append(flags, extra...)...)}
}

// print writes the table to stdout (seen with -v, as `make attack` runs it)
// and, when UNBUNDLED_ATTACK_REPORT names a file, appends it there too, so
// `make test` can show it after a quiet `go test ./...`.
func (a *attackRun) print(elapsed time.Duration) {
	a.mu.Lock()
	defer a.mu.Unlock()
	var b strings.Builder
	width := utf8.RuneCountInString // fmt pads to a width in runes
	w1, w2, w3 := width("scenario"), width("measured"), width("limit / expected")
	for _, r := range a.rows {
		w1, w2, w3 = max(w1, width(r.scenario)), max(w2, width(r.measured)), max(w3, width(r.want))
	}
	line := strings.Repeat("-", w1+w2+w3+16)
	fmt.Fprintf(&b, "\n%s (%s)\n%s\n", a.title, elapsed.Round(100*time.Millisecond), line)
	fmt.Fprintf(&b, "%-*s | %-*s | %-*s | %s\n", w1, "scenario", w2, "measured", w3, "limit / expected", "pass")
	fmt.Fprintf(&b, "%s\n", line)
	failed := 0
	for _, r := range a.rows {
		verdict := "ok"
		if !r.pass {
			verdict, failed = "FAIL", failed+1
		}
		fmt.Fprintf(&b, "%-*s | %-*s | %-*s | %s\n", w1, r.scenario, w2, r.measured, w3, r.want, verdict)
	}
	fmt.Fprintf(&b, "%s\n%d rows, %d failed\n\n", line, len(a.rows), failed)
	fmt.Print(b.String())
	if path := os.Getenv("UNBUNDLED_ATTACK_REPORT"); path != "" {
		f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
		if err == nil {
			_, err = f.WriteString(b.String())
			err = errors.Join(err, f.Close())
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "write attack report: %v\n", err)
		}
	}
}

// emailCap: 50 sign-ups for one address with fresh Idempotency-Keys, spread
// over 4 magnets and both checkbox choices (8 distinct sign-ups, so dedupe
// alone cannot keep the count under the cap). All answer success; past 3
// emails the sign-ups are recorded as limited and send nothing.
func (a *attackRun) emailCap(t *testing.T) {
	const victim, signups, capN = "victim.cap@attack.example", 50, 3
	a.secret(victim)
	a.secret(attackNames...)
	magnets, ids := attackMagnets(t, 4)
	s := a.start(t, "-limits", "on", "-emails-per-address", strconv.Itoa(capN), "-signups-per-source", "0", "-magnets", magnets)

	succeeded := 0
	for i := range signups {
		magnetID, consent, name := ids[i%len(ids)], (i/len(ids))%2 == 1, attackNames[i%len(attackNames)]
		h := attackHeaders{"Idempotency-Key": fmt.Sprintf("cap-%d-%d", i, time.Now().UnixNano())}
		var got attackAnswer
		var want int
		if i%2 == 0 {
			got, want = s.must(t, "POST", "/signup", "application/json", attackJSON(victim, name, magnetID, consent), h), http.StatusAccepted
		} else {
			got, want = s.must(t, "POST", "/signup", formType, attackForm(victim, name, magnetID, consent), h), http.StatusSeeOther
		}
		if got.status == want {
			succeeded++
		} else {
			t.Errorf("sign-up %d: got %d %s, want %d", i, got.status, got.body, want)
		}
	}
	mails := s.mailsTo(t, victim)
	events, _ := s.events(t, victim)
	recorded, limited := 0, 0
	for _, e := range events {
		if e.Type == "signup" {
			recorded++
			if e.Delivery == "limited" {
				limited++
			}
		}
	}
	a.row(t, "emails to one address, 50 sign-ups with fresh keys", strconv.Itoa(mails), fmt.Sprintf("≤ %d", capN), mails <= capN)
	a.row(t, "sign-ups past the email cap answered as success", fmt.Sprintf("%d of %d", succeeded, signups), fmt.Sprintf("%d of %d", signups, signups), succeeded == signups)
	a.row(t, "sign-ups past the cap in the ledger as delivery=limited", fmt.Sprintf("%d of %d", limited, recorded-capN),
		fmt.Sprintf("%d of %d (8 distinct sign-ups, %d sent)", recorded-capN, recorded-capN, capN),
		recorded == 2*len(ids) && limited == recorded-capN && mails == capN)
}

// dedupe: the same address, magnet and choice 20 times with fresh keys
// (forms and JSON alternating) is one sign-up and one email.
func (a *attackRun) dedupe(t *testing.T) {
	const victim, repeats = "victim.dedupe@attack.example", 20
	a.secret(victim)
	s := a.start(t)
	for i := range repeats {
		h := attackHeaders{"Idempotency-Key": fmt.Sprintf("dedupe-%d-%d", i, time.Now().UnixNano())}
		var got attackAnswer
		var want int
		if i%2 == 0 {
			got, want = s.must(t, "POST", "/signup", formType, attackForm(victim, attackNames[0], attackMagnet, true), h), http.StatusSeeOther
		} else {
			got, want = s.must(t, "POST", "/signup", "application/json", attackJSON(victim, attackNames[0], attackMagnet, true), h), http.StatusAccepted
		}
		if got.status != want {
			t.Errorf("repeat %d: got %d %s, want %d", i, got.status, got.body, want)
		}
	}
	mails := s.mailsTo(t, victim)
	events, _ := s.events(t, victim)
	a.row(t, "same sign-up 20x with fresh keys: sign-ups, emails",
		fmt.Sprintf("ledger %s, emails %d", attackTypes(events), mails), "ledger signup,granted, emails 1",
		attackTypes(events) == "signup,granted" && mails == 1)
}

// attackTypes lists the events' types: "signup,granted".
func attackTypes(events []attackEvent) string {
	var s []string
	for _, e := range events {
		s = append(s, e.Type)
	}
	return strings.Join(s, ",")
}

// sourceLimit: over 5 sign-ups per window from one source: 429 with
// Retry-After, JSON {"error":...} or an HTML page, nothing stored.
func (a *attackRun) sourceLimit(t *testing.T) {
	const limit = 5
	s := a.start(t, "-limits", "on", "-signups-per-source", strconv.Itoa(limit), "-emails-per-address", "0")
	accepted := 0
	for i := range limit {
		email := fmt.Sprintf("flood-%d@attack.example", i)
		a.secret(email)
		if got := s.must(t, "POST", "/signup", "application/json", attackJSON(email, "", attackMagnet, false), nil); got.status == http.StatusAccepted {
			accepted++
		} else {
			t.Errorf("sign-up %d of %d: got %d %s, want 202", i+1, limit, got.status, got.body)
		}
	}
	a.row(t, "sign-ups from one source under its limit accepted", fmt.Sprintf("%d of %d", accepted, limit), fmt.Sprintf("%d of %d", limit, limit), accepted == limit)

	over := []struct {
		name, email, path, contentType, body string
		check                                func(attackAnswer) error
	}{
		{"JSON sign-up", "flood-json@attack.example", "/signup", "application/json", attackJSON("flood-json@attack.example", "", attackMagnet, true), func(got attackAnswer) error {
			var e struct {
				Error string `json:"error"`
			}
			if err := json.Unmarshal([]byte(got.body), &e); err != nil || e.Error == "" || !strings.HasPrefix(got.header.Get("Content-Type"), "application/json") {
				return fmt.Errorf("body %q, want JSON {\"error\":...}", got.body)
			}
			return nil
		}},
		{"form sign-up", "flood-form@attack.example", "/signup", formType, attackForm("flood-form@attack.example", "", attackMagnet, true), func(got attackAnswer) error {
			if !strings.HasPrefix(got.header.Get("Content-Type"), "text/html") || !strings.Contains(got.body, "Please try again later") {
				return fmt.Errorf("content type %q, body %q: want the HTML page", got.header.Get("Content-Type"), got.body)
			}
			return nil
		}},
		{"withdrawal-link request", "", "/withdraw", formType, "email=flood-withdraw%40attack.example", func(attackAnswer) error { return nil }},
	}
	a.secret("flood-json@attack.example", "flood-form@attack.example", "flood-withdraw@attack.example")
	refused := 0
	for _, tc := range over {
		got := s.must(t, "POST", tc.path, tc.contentType, tc.body, nil)
		secs, ok := attackRetryAfter(got.header)
		var err error
		switch {
		case got.status != http.StatusTooManyRequests:
			err = fmt.Errorf("status %d, want 429", got.status)
		case !ok || secs < 1 || secs > 600:
			err = fmt.Errorf("Retry-After %q, want 1-600 seconds", got.header.Get("Retry-After"))
		default:
			err = tc.check(got)
		}
		if tc.email != "" {
			if events, _ := s.events(t, tc.email); err == nil && len(events) != 0 {
				err = fmt.Errorf("stored %s", attackTypes(events))
			}
		}
		if err != nil {
			t.Errorf("%s over the source limit: %v", tc.name, err)
			continue
		}
		refused++
	}
	a.row(t, "requests over the source limit: 429 + Retry-After", fmt.Sprintf("%d of %d", refused, len(over)), fmt.Sprintf("%d of %d", len(over), len(over)), refused == len(over))
}

// botTraps: a filled honeypot, a stamp younger than -form-min-age, or a
// forged stamp get the real success answer and store and send nothing. A
// stamp old enough goes through, so the traps are not just eating
// everything.
func (a *attackRun) botTraps(t *testing.T) {
	s := a.start(t, "-form-min-age", "2s")
	requested := time.Now()
	stamp, _ := attackLandingForm(t, s)
	rendered := time.Now()

	type trap struct {
		name, email, contentType, body string
		young                          bool // trapped only while the stamp is young
	}
	form := func(email string, extra ...string) string { return attackForm(email, "", attackMagnet, true, extra...) }
	js := func(email string, extra ...string) string { return attackJSON(email, "", attackMagnet, true, extra...) }
	traps := []trap{
		// First, while the stamp is still young.
		{"form posted too soon after rendering", "bot-fast@attack.example", formType, form("bot-fast@attack.example", "form_stamp", stamp), true},
		{"JSON with a too-young stamp", "bot-fast-json@attack.example", "application/json", js("bot-fast-json@attack.example", "form_stamp", stamp), true},
		{"honeypot filled", "bot-honeypot@attack.example", formType, form("bot-honeypot@attack.example", "form_stamp", stamp, "website", "http://spam.example"), false},
		{"honeypot filled, no stamp", "bot-honeypot2@attack.example", formType, form("bot-honeypot2@attack.example", "website", "x"), false},
		{"honeypot filled, JSON", "bot-honeypot-json@attack.example", "application/json", js("bot-honeypot-json@attack.example", "website", "http://spam.example"), false},
		{"forged stamp", "bot-forged@attack.example", formType, form("bot-forged@attack.example", "form_stamp", "k1.Zm9ybS1zdGFtcApzdWJqZWN0CnNjb3BlCjE.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"), false},
		{"stamp with its MAC changed", "bot-tampered@attack.example", formType, form("bot-tampered@attack.example", "form_stamp", attackFlipLast(stamp, 32)), false},
		{"stamp with unused bits changed", "bot-bits@attack.example", formType, form("bot-bits@attack.example", "form_stamp", attackFlipLast(stamp, 1)), false},
	}
	answers := map[string]attackAnswer{}
	for _, tc := range traps {
		a.secret(tc.email)
		answers[tc.name] = s.must(t, "POST", "/signup", tc.contentType, tc.body, nil)
		// A stamp keeps its issue time to the second, so it can look up to
		// 1 s older than it is: posted within 900ms of asking for the form,
		// it looks under 2 s old.
		if age := time.Since(requested); tc.young && age >= 900*time.Millisecond {
			t.Fatalf("%s: posted %s after asking for the form, want under 900ms (the case would prove nothing)", tc.name, age)
		}
	}

	// A real person: the same stamp once old enough, and a JSON client.
	time.Sleep(time.Until(rendered.Add(2*time.Second + 300*time.Millisecond)))
	const person, client = "person-form@attack.example", "person-json@attack.example"
	a.secret(person, client)
	realForm := s.must(t, "POST", "/signup", formType, form(person, "form_stamp", stamp), nil)
	realJSON := s.must(t, "POST", "/signup", "application/json", js(client), nil)
	if realForm.status != http.StatusSeeOther || realJSON.status != http.StatusAccepted {
		t.Fatalf("real sign-ups: form %d, JSON %d, want 303 and 202", realForm.status, realJSON.status)
	}
	if events, _ := s.events(t, person); attackTypes(events) != "signup,granted" {
		t.Errorf("a form posted after -form-min-age: ledger %q, want signup,granted (the trap eats real sign-ups)", attackTypes(events))
	}

	stored, alike := 0, 0
	for _, tc := range traps {
		got, want := answers[tc.name], realForm
		if tc.contentType == "application/json" {
			want = realJSON
		}
		if got.status == want.status && got.header.Get("Location") == want.header.Get("Location") && got.body == want.body {
			alike++
		} else {
			t.Errorf("%s: answered %d %q %q, a real sign-up %d %q %q", tc.name, got.status, got.header.Get("Location"), got.body, want.status, want.header.Get("Location"), want.body)
		}
		events, _ := s.events(t, tc.email)
		if mails := s.mailsTo(t, tc.email); len(events) > 0 || mails > 0 {
			stored++
			t.Errorf("%s: stored %q and sent %d emails, want nothing", tc.name, attackTypes(events), mails)
		}
	}
	a.row(t, "trapped bot posts stored or mailed", fmt.Sprintf("%d of %d", stored, len(traps)), "0", stored == 0)
	a.row(t, "trapped bot posts answered like real ones", fmt.Sprintf("%d of %d", alike, len(traps)), fmt.Sprintf("%d of %d", len(traps), len(traps)), alike == len(traps))
}

// origin: posts from other sites are refused with 403 and change nothing;
// the one-click POST of a mail provider (no Origin, no Sec-Fetch-Site) works.
func (a *attackRun) origin(t *testing.T) {
	s := a.start(t)
	const owner = "origin-owner@attack.example"
	a.secret(owner)
	if got := s.must(t, "POST", "/signup", formType, attackForm(owner, "", attackMagnet, true), nil); got.status != http.StatusSeeOther {
		t.Fatalf("owner sign-up: %d", got.status)
	}
	freebie := s.firstMailTo(t, owner)
	unsub := unsubscribePathOf(t, s.server, freebie)
	confirm := linkPath(t, s.server, freebie.Text, "/confirm")
	_, before := s.events(t, owner)

	cases := []struct {
		name, path, contentType, body string
		h                             attackHeaders
		email                         string // a sign-up's address, which must stay unknown
	}{
		{"sign-up form, Origin: null", "/signup", formType, attackForm("o-null@attack.example", "", attackMagnet, true), attackHeaders{"Origin": "null"}, "o-null@attack.example"},
		{"sign-up JSON, Origin: null", "/signup", "application/json", attackJSON("o-null-json@attack.example", "", attackMagnet, true), attackHeaders{"Origin": "null"}, "o-null-json@attack.example"},
		{"sign-up, Origin: https://evil.example", "/signup", formType, attackForm("o-evil@attack.example", "", attackMagnet, true), attackHeaders{"Origin": "https://evil.example"}, "o-evil@attack.example"},
		{"sign-up, no Origin, Sec-Fetch-Site: cross-site", "/signup", formType, attackForm("o-sfs@attack.example", "", attackMagnet, true), attackHeaders{"Sec-Fetch-Site": "cross-site"}, "o-sfs@attack.example"},
		{"sign-up, no Origin, Referer: https://evil.example/x", "/signup", formType, attackForm("o-ref@attack.example", "", attackMagnet, true), attackHeaders{"Referer": "https://evil.example/x"}, "o-ref@attack.example"},
		{"withdraw, Origin: null", "/withdraw", formType, "email=" + url.QueryEscape(owner), attackHeaders{"Origin": "null"}, ""},
		{"withdraw, Referer: https://evil.example/x", "/withdraw", formType, "email=" + url.QueryEscape(owner), attackHeaders{"Referer": "https://evil.example/x"}, ""},
		{"unsubscribe button, Sec-Fetch-Site: cross-site", unsub, formType, "confirm=yes", attackHeaders{"Sec-Fetch-Site": "cross-site"}, ""},
		{"one-click body from a browser on evil.example", unsub, formType, "List-Unsubscribe=One-Click", attackHeaders{"Origin": "https://evil.example"}, ""},
		{"one-click body, Sec-Fetch-Site: cross-site", unsub, formType, "List-Unsubscribe=One-Click", attackHeaders{"Sec-Fetch-Site": "cross-site"}, ""},
		{"confirm button, Origin: null", confirm, formType, "confirm=yes", attackHeaders{"Origin": "null"}, ""},
		{"confirm button, Referer: https://evil.example/x", confirm, formType, "confirm=yes", attackHeaders{"Referer": "https://evil.example/x"}, ""},
	}
	refused := 0
	for _, tc := range cases {
		got := s.must(t, "POST", tc.path, tc.contentType, tc.body, tc.h)
		ok := got.status == http.StatusForbidden
		if tc.email != "" {
			a.secret(tc.email)
			if events, _ := s.events(t, tc.email); len(events) > 0 {
				ok = false
				t.Errorf("%s: stored %s", tc.name, attackTypes(events))
			}
		}
		if ok {
			refused++
		} else {
			t.Errorf("%s: got %d, want 403", tc.name, got.status)
		}
	}
	if _, after := s.events(t, owner); after != before {
		t.Errorf("refused posts changed the owner's ledger")
		refused = 0
	}
	if got := s.mailsTo(t, owner); got != 1 {
		t.Errorf("refused posts sent mail: %d messages to the owner, want 1", got)
	}
	a.row(t, "cross-site posts refused (403, nothing changed)", fmt.Sprintf("%d of %d", refused, len(cases)), fmt.Sprintf("%d of %d", len(cases), len(cases)), refused == len(cases))

	// What must keep working: our own page's posts and the mail provider's
	// one-click POST.
	own := s.must(t, "POST", "/signup", formType, attackForm("o-own@attack.example", "", attackMagnet, false), attackHeaders{"Origin": s.base, "Sec-Fetch-Site": "same-origin"})
	a.secret("o-own@attack.example")
	oneClick := s.must(t, "POST", unsub, formType, "List-Unsubscribe=One-Click", nil)
	events, _ := s.events(t, owner)
	worked := own.status == http.StatusSeeOther && oneClick.status == http.StatusOK && attackTypes(events) == "signup,granted,withdrawn"
	a.row(t, "own-origin post and mail provider's one-click POST work",
		fmt.Sprintf("own %d, one-click %d, ledger %s", own.status, oneClick.status, attackTypes(events)),
		"own 303, one-click 200, ledger signup,granted,withdrawn", worked)
}

// strictDecoding: bodies two parsers could read differently are refused.
func (a *attackRun) strictDecoding(t *testing.T) {
	s := a.start(t)
	const e = "strict@attack.example"
	a.secret(e, "strict-other@attack.example")
	q := url.QueryEscape
	cases := []struct{ name, path, contentType, body string }{
		{"form: marketing_consent=yes&marketing_consent=no", "/signup", formType, "email=" + q(e) + "&magnet=" + attackMagnet + "&marketing_consent=yes&marketing_consent=no"},
		{"form: email twice", "/signup", formType, "email=" + q(e) + "&email=" + q("strict-other@attack.example") + "&magnet=" + attackMagnet},
		{"form: email also in the URL", "/signup?email=" + q("strict-other@attack.example"), formType, "email=" + q(e) + "&magnet=" + attackMagnet},
		{"JSON: duplicate key", "/signup", "application/json", `{"email":"` + e + `","email":"strict-other@attack.example","magnet":"` + attackMagnet + `"}`},
		{"JSON: duplicate marketing_consent", "/signup", "application/json", `{"email":"` + e + `","magnet":"` + attackMagnet + `","marketing_consent":false,"marketing_consent":true}`},
		{`JSON: wrong-case key "Email"`, "/signup", "application/json", `{"Email":"` + e + `","magnet":"` + attackMagnet + `"}`},
		{"JSON: unknown field", "/signup", "application/json", `{"email":"` + e + `","magnet":"` + attackMagnet + `","is_admin":true}`},
		{"JSON: a second object after the first", "/signup", "application/json", `{"email":"` + e + `","magnet":"` + attackMagnet + `"}{"email":"strict-other@attack.example"}`},
		{"JSON: trailing garbage", "/signup", "application/json", `{"email":"` + e + `","magnet":"` + attackMagnet + `"} x`},
		{"JSON: an array", "/signup", "application/json", `[{"email":"` + e + `","magnet":"` + attackMagnet + `"}]`},
	}
	refused := 0
	for _, tc := range cases {
		got := s.must(t, "POST", tc.path, tc.contentType, tc.body, nil)
		if got.status == http.StatusBadRequest {
			refused++
		} else {
			t.Errorf("%s: got %d %s, want 400", tc.name, got.status, got.body)
		}
	}
	for _, email := range []string{e, "strict-other@attack.example"} {
		if events, _ := s.events(t, email); len(events) > 0 {
			t.Errorf("an ambiguous body stored %s for %s", attackTypes(events), email)
			refused = 0
		}
	}
	a.row(t, "ambiguous bodies refused (400, nothing stored)", fmt.Sprintf("%d of %d", refused, len(cases)), fmt.Sprintf("%d of %d", len(cases), len(cases)), refused == len(cases))
}

// addresses: hostile or undeliverable addresses are refused; the Unicode
// and punycode spellings of one domain are one subscriber.
func (a *attackRun) addresses(t *testing.T) {
	s := a.start(t)
	bad := []string{
		"a@-x.example", "a@x-.example", "a@" + strings.Repeat("x", 64) + ".example",
		"a@x/y.example", "a@x{y}.example", "a@x?.example", "a@1.2.3.4", "a@[1.2.3.4]",
		"jö@example.com", `"a b"@example.com`, "a..b@example.com",
		"a@example.com\r\nBcc: b@example.com", "Ann <a@example.com>", "a@example.com.", "a@b@example.com",
	}
	a.secret(bad...)
	refused := 0
	for _, addr := range bad {
		got := s.must(t, "POST", "/signup", "application/json", attackJSON(addr, "", attackMagnet, true), nil)
		var e struct {
			Errors map[string]string `json:"errors"`
		}
		if got.status == http.StatusBadRequest && json.Unmarshal([]byte(got.body), &e) == nil && e.Errors["email"] != "" {
			refused++
		} else {
			t.Errorf("address %q: got %d %s, want 400 with an email message", addr, got.status, got.body)
		}
	}
	if n := len(s.mailbox(t)); n != 0 {
		t.Errorf("refused addresses got %d emails", n)
		refused = 0
	}
	a.row(t, "hostile addresses refused (400)", fmt.Sprintf("%d of %d", refused, len(bad)), fmt.Sprintf("%d of %d", len(bad), len(bad)), refused == len(bad))

	const unicode, puny = "ann@bücher.example", "ann@xn--bcher-kva.example"
	a.secret(unicode, puny)
	first := s.must(t, "POST", "/signup", "application/json", attackJSON(unicode, "", attackMagnet, true), nil)
	second := s.must(t, "POST", "/signup", formType, attackForm(puny, "", attackMagnet, false), nil)
	byUnicode, rawU := s.events(t, unicode)
	_, rawP := s.events(t, puny)
	sameAddress := len(byUnicode) > 0
	for _, e := range byUnicode {
		sameAddress = sameAddress && e.Email == puny
	}
	one := first.status == http.StatusAccepted && second.status == http.StatusSeeOther && rawU == rawP &&
		attackTypes(byUnicode) == "signup,granted,signup" && sameAddress
	a.row(t, "bücher.example and xn--bcher-kva.example: subscribers",
		fmt.Sprintf("ledgers equal %t, %s", rawU == rawP, attackTypes(byUnicode)), "one ledger: signup,granted,signup", one)
}

// names: names that are links, carry bidi or line-separator characters, or
// look like addresses are refused with a message about the name.
func (a *attackRun) names(t *testing.T) {
	s := a.start(t)
	bad := []string{"http://evil.example", "Ann\u202Egnp.exe", "Ann\u2028Bcc: evil", "ann@evil.example", "=HYPERLINK(\"http://evil.example\")", "Ann\u200Bx"}
	a.secret(bad...)
	refused := 0
	for i, name := range bad {
		email := fmt.Sprintf("named-%d@attack.example", i)
		a.secret(email)
		var got attackAnswer
		var ok bool
		if i%2 == 0 {
			got = s.must(t, "POST", "/signup", "application/json", attackJSON(email, name, attackMagnet, true), nil)
			var e struct {
				Errors map[string]string `json:"errors"`
			}
			ok = json.Unmarshal([]byte(got.body), &e) == nil && strings.Contains(strings.ToLower(e.Errors["name"]), "name")
		} else {
			got = s.must(t, "POST", "/signup", formType, attackForm(email, name, attackMagnet, true), nil)
			// The form comes back with a message under the name field,
			// named by its label.
			ok = strings.Contains(got.body, "First name: Your name")
		}
		if events, _ := s.events(t, email); len(events) > 0 {
			ok = false
		}
		if got.status == http.StatusBadRequest && ok {
			refused++
		} else {
			t.Errorf("name %q: got %d %s, want 400 with a message about the name and nothing stored", name, got.status, got.body)
		}
	}
	a.row(t, "hostile names refused (400, message about the name)", fmt.Sprintf("%d of %d", refused, len(bad)), fmt.Sprintf("%d of %d", len(bad), len(bad)), refused == len(bad))
}

// consentNeverBackwards: after confirming, further sign-ups of every kind
// (ticked, unticked, JSON, the form's version, confirming again) leave the
// consent active.
func (a *attackRun) consentNeverBackwards(t *testing.T) {
	s := a.start(t)
	const who = "confirmed@attack.example"
	a.secret(who, attackNames[1])
	_, version := attackLandingForm(t, s)
	if got := s.must(t, "POST", "/signup", formType, attackForm(who, attackNames[1], attackMagnet, true), nil); got.status != http.StatusSeeOther {
		t.Fatalf("sign-up: %d", got.status)
	}
	confirm := linkPath(t, s.server, s.firstMailTo(t, who).Text, "/confirm")
	if got := s.must(t, "POST", confirm, formType, "confirm=yes", nil); got.status != http.StatusOK {
		t.Fatalf("confirm: %d %s", got.status, got.body)
	}
	if st := s.stateOf(t, who, attackMagnet); st != "active" {
		t.Fatalf("after confirming: state %s, want active", st)
	}
	attempts := []struct{ name, path, contentType, body string }{
		{"ticked form again, fresh key", "/signup", formType, attackForm(who, attackNames[1], attackMagnet, true)},
		{"ticked JSON", "/signup", "application/json", attackJSON(who, attackNames[2], attackMagnet, true)},
		{"ticked with the form's consent_version", "/signup", formType, attackForm(who, "", attackMagnet, true, "consent_version", version)},
		{"unticked form", "/signup", formType, attackForm(who, attackNames[1], attackMagnet, false)},
		{"unticked JSON, marketing_consent false", "/signup", "application/json", attackJSON(who, "", attackMagnet, false)},
		{"ticked after unticked", "/signup", formType, attackForm(who, attackNames[3], attackMagnet, true)},
		{"confirm link pressed again", confirm, formType, "confirm=yes"},
	}
	a.secret(attackNames...)
	demoted := 0
	for i, at := range attempts {
		got := s.must(t, "POST", at.path, at.contentType, at.body, attackHeaders{"Idempotency-Key": fmt.Sprintf("again-%d", i)})
		if got.status >= 400 {
			t.Errorf("%s: got %d %s", at.name, got.status, got.body)
		}
		if st := s.stateOf(t, who, attackMagnet); st != "active" {
			demoted++
			t.Errorf("%s: state %s, want active", at.name, st)
		}
	}
	a.row(t, "confirmed subscribers demoted by later sign-ups", fmt.Sprintf("%d of %d checks", demoted, len(attempts)), "0", demoted == 0)
}

// tamperedTokens: a link whose token's last character is changed does not
// work — including changes a lenient base64 decoder would ignore — and
// changes nothing.
func (a *attackRun) tamperedTokens(t *testing.T) {
	s := a.start(t)
	const who = "tokens@attack.example"
	a.secret(who)
	s.must(t, "POST", "/signup", formType, attackForm(who, "", attackMagnet, true), nil)
	freebie := s.firstMailTo(t, who)
	unsub := unsubscribePathOf(t, s.server, freebie)
	confirm := linkPath(t, s.server, freebie.Text, "/confirm")
	if got := s.must(t, "GET", unsub, "", "", nil); got.status != http.StatusOK {
		t.Fatalf("the real unsubscribe link: %d", got.status)
	}
	_, before := s.events(t, who)
	verified, tried := 0, 0
	for _, link := range []struct{ path, button string }{{"/unsubscribe", "List-Unsubscribe=One-Click"}, {"/confirm", "confirm=yes"}} {
		real := unsub
		if link.path == "/confirm" {
			real = confirm
		}
		tok := attackToken(t, real)
		for _, mask := range []int{1, 2, 3, 4, 32} {
			tampered := link.path + "?t=" + url.QueryEscape(attackFlipLast(tok, mask))
			for _, method := range []string{"GET", "POST"} {
				tried++
				body := ""
				if method == "POST" {
					body = link.button
				}
				got := s.must(t, method, tampered, formType, body, nil)
				if got.status != http.StatusBadRequest || !strings.Contains(got.body, "This link does not work") {
					verified++
					t.Errorf("%s %s with last character xor %d: got %d, want 400 \"This link does not work\"", method, link.path, mask, got.status)
				}
			}
		}
	}
	if _, after := s.events(t, who); after != before {
		t.Errorf("tampered links changed the ledger")
		verified++
	}
	a.row(t, "links with the token's last character changed that work", fmt.Sprintf("%d of %d", verified, tried), "0", verified == 0)
}

// contention: JSON sign-ups (varied names and choices, fresh keys; 200 on
// SQLite) and one-click unsubscribes (20) for one address, all at once,
// with the email cap on and no source limit.
func (a *attackRun) contention(t *testing.T) {
	const victim = "victim.race@attack.example"
	signups, unsubscribes := a.signups, a.unsubscribes
	a.secret(victim)
	a.secret(attackNames...)
	s := a.start(t, "-limits", "on", "-signups-per-source", "0")
	if got := s.must(t, "POST", "/signup", "application/json", attackJSON(victim, attackNames[0], attackMagnet, true), nil); got.status != http.StatusAccepted {
		t.Fatalf("first sign-up: %d %s", got.status, got.body)
	}
	unsub := unsubscribePathOf(t, s.server, s.firstMailTo(t, victim))

	type result struct {
		unsubscribe bool
		status      int
		err         error
		took        time.Duration
	}
	results := make(chan result, signups+unsubscribes)
	begin := make(chan struct{})
	var wg sync.WaitGroup
	for i := range signups + unsubscribes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-begin
			sent := time.Now()
			if i < unsubscribes {
				got, err := s.send("POST", unsub, formType, "List-Unsubscribe=One-Click", nil)
				results <- result{true, got.status, err, time.Since(sent)}
				return
			}
			body := attackJSON(victim, attackNames[i%len(attackNames)], attackMagnet, i%3 != 0)
			got, err := s.send("POST", "/signup", "application/json", body, attackHeaders{"Idempotency-Key": fmt.Sprintf("race-%d-%d", i, time.Now().UnixNano())})
			results <- result{false, got.status, err, time.Since(sent)}
		}()
	}
	started := time.Now()
	close(begin)
	wg.Wait()
	close(results)
	elapsed := time.Since(started)

	serverErrors, transportErrors, unsubOK, signupOK := 0, 0, 0, 0
	var slowest time.Duration
	for r := range results {
		slowest = max(slowest, r.took)
		switch {
		case r.err != nil:
			transportErrors++
			t.Errorf("request failed: %v", r.err)
		case r.status >= 500:
			serverErrors++
		case r.unsubscribe && r.status >= 200 && r.status < 300:
			unsubOK++
		case !r.unsubscribe && r.status == http.StatusAccepted:
			signupOK++
		case r.unsubscribe:
			t.Errorf("one-click unsubscribe under contention: %d", r.status)
		default:
			t.Errorf("sign-up under contention: %d", r.status)
		}
	}
	a.row(t, fmt.Sprintf("5xx under contention (%d sign-ups + %d one-clicks)", signups, unsubscribes), fmt.Sprintf("%d (+%d transport errors; all in %s, slowest %s)", serverErrors, transportErrors, elapsed.Round(time.Millisecond), slowest.Round(time.Millisecond)), "0", serverErrors == 0 && transportErrors == 0)
	a.row(t, "sign-ups under contention answered 202", fmt.Sprintf("%d of %d", signupOK, signups), fmt.Sprintf("%d of %d", signups, signups), signupOK == signups)

	events, _ := s.events(t, victim)
	state := s.stateOf(t, victim, attackMagnet)
	withdrawals, gaps := 0, 0
	for i, e := range events {
		if e.Type == "withdrawn" {
			withdrawals++
		}
		if e.Seq != i+1 {
			gaps++
		}
	}
	lost := unsubscribes - unsubOK
	if withdrawals == 0 {
		lost++ // every one-click answered, none recorded
	}
	if len(events) == 0 {
		t.Fatalf("no ledger for %s after the storm", victim)
	}
	last := events[len(events)-1].Type
	if last == "withdrawn" && state != "withdrawn" {
		lost++
	}
	a.row(t, "withdrawals lost under contention",
		fmt.Sprintf("%d (%d of %d answered 2xx; %d withdrawn events; last %s, state %s)", lost, unsubOK, unsubscribes, withdrawals, last, state), "0", lost == 0)
	a.row(t, "ledger positions under contention (seq 1..n)", fmt.Sprintf("%d events, %d out of place", len(events), gaps), "0 out of place", gaps == 0 && len(events) > 0)
	mails := s.mailsTo(t, victim)
	a.row(t, "emails to the address under contention", strconv.Itoa(mails), "≤ 3", mails <= 3)
	if t.Failed() {
		_, raw := s.events(t, victim)
		var sent []string
		for _, m := range s.mailbox(t) {
			sent = append(sent, m.SentAt.Format(time.RFC3339Nano)+" "+m.Subject)
		}
		t.Logf("ledger after the storm:\n%s\nmail to the address:\n%s", raw, strings.Join(sent, "\n"))
	}

	// Afterwards, one more one-click must leave the address withdrawn.
	final := s.must(t, "POST", unsub, formType, "List-Unsubscribe=One-Click", nil)
	after := s.stateOf(t, victim, attackMagnet)
	a.row(t, "one-click after the storm", fmt.Sprintf("%d, state %s", final.status, after), "200, state withdrawn", final.status == http.StatusOK && after == "withdrawn")
}

// regressions: security headers, body size limit, reads that never write,
// and a /withdraw answer that does not tell known from unknown addresses.
func (a *attackRun) regressions(t *testing.T) {
	s := a.start(t)
	const owner, other = "regress-owner@attack.example", "regress-unticked@attack.example"
	a.secret(owner, other, "regress-unknown@attack.example", "regress-query@attack.example")
	s.must(t, "POST", "/signup", formType, attackForm(owner, "", attackMagnet, true), nil)
	s.must(t, "POST", "/signup", formType, attackForm(other, "", attackMagnet, false), nil)
	freebie := s.firstMailTo(t, owner)
	unsub := unsubscribePathOf(t, s.server, freebie)
	confirm := linkPath(t, s.server, freebie.Text, "/confirm")

	// Security headers on pages, errors and JSON.
	pages := []struct{ method, path, contentType, body string }{
		{"GET", "/", "", ""},
		{"GET", "/withdraw", "", ""},
		{"GET", "/thanks?magnet=" + attackMagnet, "", ""},
		{"GET", unsub, "", ""},
		{"GET", confirm, "", ""},
		{"GET", "/unsubscribe?t=nonsense", "", ""},
		{"POST", "/signup", "application/json", `{"email":"nope"}`},
		{"POST", "/signup", formType, "email=nope"},
		{"OPTIONS", "/signup", "", ""},
	}
	withHeaders := 0
	for _, p := range pages {
		got := s.must(t, p.method, p.path, p.contentType, p.body, nil)
		h := got.header
		if h.Get("X-Content-Type-Options") == "nosniff" && h.Get("X-Frame-Options") == "DENY" && strings.Contains(h.Get("Content-Security-Policy"), "default-src") {
			withHeaders++
		} else {
			t.Errorf("%s %s (%d): X-Content-Type-Options %q, X-Frame-Options %q, Content-Security-Policy %q", p.method, p.path, got.status,
				h.Get("X-Content-Type-Options"), h.Get("X-Frame-Options"), h.Get("Content-Security-Policy"))
		}
	}
	a.row(t, "responses with nosniff, DENY and a CSP", fmt.Sprintf("%d of %d", withHeaders, len(pages)), fmt.Sprintf("%d of %d", len(pages), len(pages)), withHeaders == len(pages))

	// A 10 MB body is refused with 413 wherever a body is read.
	huge := strings.Repeat("a", 10<<20)
	bodies := []struct{ path, contentType, body string }{
		{"/signup", formType, "email=" + huge},
		{"/signup", "application/json", `{"email":"` + huge + `"}`},
		{"/withdraw", formType, "email=" + huge},
		{unsub, formType, "List-Unsubscribe=" + huge},
		{confirm, formType, "confirm=" + huge},
	}
	tooLarge := 0
	for _, b := range bodies {
		got, err := s.send("POST", b.path, b.contentType, b.body, nil)
		switch {
		case err != nil:
			t.Errorf("10 MB to %s (%s): %v, want a 413 answer", strings.SplitN(b.path, "?", 2)[0], b.contentType, err)
		case got.status != http.StatusRequestEntityTooLarge:
			t.Errorf("10 MB to %s (%s): got %d, want 413", strings.SplitN(b.path, "?", 2)[0], b.contentType, got.status)
		default:
			tooLarge++
		}
	}
	a.row(t, "10 MB bodies answered 413", fmt.Sprintf("%d of %d", tooLarge, len(bodies)), fmt.Sprintf("%d of %d", len(bodies), len(bodies)), tooLarge == len(bodies))

	// GET, HEAD and OPTIONS on every route, with real tokens and with
	// sign-up or withdraw fields in the query, write nothing and send nothing.
	_, ownerBefore := s.events(t, owner)
	_, otherBefore := s.events(t, other)
	mailsBefore := len(s.mailbox(t))
	paths := []string{
		"/signup?" + attackForm("regress-query@attack.example", "", attackMagnet, true),
		"/withdraw?email=" + url.QueryEscape(owner),
		unsub, unsub + "&List-Unsubscribe=One-Click", confirm, confirm + "&confirm=yes",
		strings.Replace(confirm, "/confirm?", "/confirm/resend?", 1), "/thanks?magnet=" + attackMagnet, "/",
	}
	for _, r := range web.Routes() {
		paths = append(paths, r.Path)
	}
	reads, serverErrors := 0, 0
	for _, p := range paths {
		for _, method := range []string{"GET", "HEAD", "OPTIONS"} {
			reads++
			if got := s.must(t, method, p, "", "", nil); got.status >= 500 {
				serverErrors++
				t.Errorf("%s %s: %d", method, p, got.status)
			}
		}
	}
	_, ownerAfter := s.events(t, owner)
	_, otherAfter := s.events(t, other)
	queried, _ := s.events(t, "regress-query@attack.example")
	wrote := 0
	for _, changed := range []bool{ownerAfter != ownerBefore, otherAfter != otherBefore, len(queried) > 0, len(s.mailbox(t)) != mailsBefore} {
		if changed {
			wrote++
		}
	}
	a.row(t, "GET/HEAD/OPTIONS requests that wrote or sent", fmt.Sprintf("%d writes, %d 5xx after %d reads", wrote, serverErrors, reads), "0 writes, 0 5xx", wrote == 0 && serverErrors == 0)

	// /withdraw answers alike for a subscribed, an unticked and an unknown
	// address, though only the subscribed one is sent a link.
	linksBefore := s.mailsTo(t, owner)
	var answers []attackAnswer
	for _, email := range []string{owner, other, "regress-unknown@attack.example"} {
		answers = append(answers, s.must(t, "POST", "/withdraw", formType, "email="+url.QueryEscape(email), nil))
	}
	differ := 0
	for _, got := range answers[1:] {
		if got.status != answers[0].status || got.body != answers[0].body {
			differ++
		}
	}
	linked := s.mailsTo(t, owner) - linksBefore
	a.row(t, "/withdraw answers that differ by address (known vs unknown)",
		fmt.Sprintf("%d (statuses %d/%d/%d; links sent to the subscriber %d)", differ, answers[0].status, answers[1].status, answers[2].status, linked),
		"0 (all 200; 1 link sent)", differ == 0 && answers[0].status == http.StatusOK && linked == 1)
}

// checkLogs: no server log of the run contains an address or name the
// suite sent (raw, lower-cased, or as escaped in JSON).
func (a *attackRun) checkLogs(t *testing.T) {
	a.mu.Lock()
	logs, secrets := slices.Clone(a.logs), slices.Clone(a.secrets)
	a.mu.Unlock()
	var forms []string
	for _, s := range secrets {
		j, _ := json.Marshal(s)
		forms = append(forms, s, strings.ToLower(s), strings.Trim(string(j), `"`), url.QueryEscape(s))
	}
	slices.Sort(forms)
	forms = slices.Compact(forms)
	leaks, lines := 0, 0
	for i, l := range logs {
		text := l.text()
		lines += strings.Count(text, "\n")
		for _, f := range forms {
			if f != "" && strings.Contains(text, f) {
				leaks++
				t.Errorf("server %d's log contains %q", i, f)
			}
		}
	}
	a.row(t, "attack addresses and names in server logs", fmt.Sprintf("%d (%d values, %d log lines, %d servers)", leaks, len(secrets), lines, len(logs)), "0", leaks == 0 && lines > 0)
}
