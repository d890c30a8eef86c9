package emf_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/unbundled/unbundled/functions/internal/emf"
	"github.com/unbundled/unbundled/shared/consent"
	"github.com/unbundled/unbundled/shared/consent/consenttest"
	"github.com/unbundled/unbundled/shared/consent/consenttest/memstore"
)

// line is what CloudWatch reads from an embedded metric format line.
type line struct {
	AWS struct {
		Timestamp         int64
		CloudWatchMetrics []struct {
			Namespace  string
			Dimensions [][]string
			Metrics    []struct{ Name, Unit string }
		}
	} `json:"_aws"`
	Magnet string
}

func parse(t *testing.T, raw []byte) (line, map[string]any) {
	t.Helper()
	var l line
	var all map[string]any
	if err := json.Unmarshal(raw, &l); err != nil {
		t.Fatalf("not JSON: %v: %s", err, raw)
	}
	if err := json.Unmarshal(raw, &all); err != nil {
		t.Fatal(err)
	}
	return l, all
}

func TestLine(t *testing.T) {
	at := time.Date(2026, 11, 28, 10, 0, 0, 123e6, time.UTC)
	raw := emf.Line(at, "guide", consent.Counts{Signups: 1, Ticked: 1, BotTrapped: 2})
	l, all := parse(t, raw)
	if l.AWS.Timestamp != at.UnixMilli() {
		t.Errorf("Timestamp: got %d, want %d", l.AWS.Timestamp, at.UnixMilli())
	}
	if len(l.AWS.CloudWatchMetrics) != 1 {
		t.Fatalf("CloudWatchMetrics: got %d directives, want 1: %s", len(l.AWS.CloudWatchMetrics), raw)
	}
	d := l.AWS.CloudWatchMetrics[0]
	if d.Namespace != "Unbundled" || len(d.Dimensions) != 1 || !slices.Equal(d.Dimensions[0], []string{"Magnet"}) {
		t.Errorf("directive: got namespace %q, dimensions %v; want Unbundled, [[Magnet]]", d.Namespace, d.Dimensions)
	}
	var names []string
	for _, m := range d.Metrics {
		if m.Unit != "Count" {
			t.Errorf("%s: unit %q, want Count", m.Name, m.Unit)
		}
		names = append(names, m.Name)
	}
	if want := []string{"Signups", "Ticked", "BotTrapped"}; !slices.Equal(names, want) {
		t.Errorf("metrics: got %v, want %v (the non-zero ones, in order)", names, want)
	}
	want := map[string]any{"Magnet": "guide", "Signups": 1.0, "Ticked": 1.0, "BotTrapped": 2.0}
	for k, v := range want {
		if all[k] != v {
			t.Errorf("%s: got %v, want %v", k, all[k], v)
		}
	}
	if len(all) != len(want)+1 { // and _aws
		t.Errorf("line has fields beyond the dimension and metrics: %s", raw)
	}

	if got := emf.Line(at, "guide", consent.Counts{}); got != nil {
		t.Errorf("zero counts: got %s, want no line", got)
	}
	if l, _ := parse(t, emf.Line(at, "", consent.Counts{Bounced: 1})); l.Magnet != consent.NoMagnet {
		t.Errorf("no magnet: dimension %q, want %q", l.Magnet, consent.NoMagnet)
	}
}

// A whole life through the service — sign-up with every piece of evidence,
// confirmation, unsubscribe, complaint, delivery — writes metric lines
// that name magnets and counts, and nothing about the person.
func TestLinesHoldNoPersonalData(t *testing.T) {
	var out bytes.Buffer
	w := emf.New(&out)
	store, mailer := memstore.New(), &consenttest.Mailer{}
	svc := consenttest.Service(t, store, time.Now)
	svc.Metrics = w
	consenttest.DeliverAtOnce(t, svc, consent.CountedJobs{JobQueue: store, Metrics: w}, mailer)
	ctx := context.Background()
	const (
		addr = "annwyl.quennell@example.org"
		name = "Annwyl Quennell"
		ip   = "198.51.100.77"
		ua   = "Mozilla/5.0 (Distinctive Agent)"
	)
	ev := consent.Evidence{SourceIP: ip, UserAgent: ua, RequestID: "req-distinctive-1"}
	if err := svc.Signup(ctx, consent.SignupRequest{Email: addr, Name: name, Magnet: "uk-gdpr-checklist", Consent: true, Method: consent.MethodForm, PageURL: "https://example.com/landing", Evidence: ev}); err != nil {
		t.Fatal(err)
	}
	subscriber := svc.Keys.Subject.SubscriberID(addr)
	ledger, _ := store.Events(ctx, subscriber)
	m, _ := svc.Catalog.Get("uk-gdpr-checklist")
	confirmURL := svc.ConfirmURL(ctx, subscriber, m, ledger[len(ledger)-1].ID)
	confirmTok := confirmURL[strings.Index(confirmURL, "t=")+2:]
	if _, err := svc.Confirm(ctx, confirmTok, ev); err != nil {
		t.Fatal(err)
	}
	unsubscribeTok := consenttest.UnsubscribeToken(svc, subscriber, m.ID)
	if _, err := svc.Withdraw(ctx, unsubscribeTok, consent.MethodOneClick, ev); err != nil {
		t.Fatal(err)
	}
	if err := svc.RecordFeedback(ctx, consent.Feedback{ID: "n1", Kind: consent.FeedbackComplaint, Recipients: []string{addr}}); err != nil {
		t.Fatal(err)
	}

	seen := map[string]int{}
	sc := bufio.NewScanner(&out)
	for sc.Scan() {
		l, all := parse(t, sc.Bytes())
		if l.Magnet != m.ID {
			t.Errorf("line for magnet %q, want %q: %s", l.Magnet, m.ID, sc.Bytes())
		}
		for k, v := range all {
			if k != "_aws" && k != "Magnet" {
				seen[k] += int(v.(float64))
			}
		}
	}
	want := map[string]int{"Signups": 1, "Ticked": 1, "ToConfirm": 1, "Confirmed": 1, "WithdrawnOneClick": 1, "WithdrawnComplaint": 1, "FreebiesSent": 1}
	for k, v := range want {
		if seen[k] != v {
			t.Errorf("%s: got %d, want %d (all: %v)", k, seen[k], v, seen)
		}
	}
	text := out.String()
	for _, secret := range []string{addr, "annwyl", "Quennell", ip, "198.51.100", ua, "Distinctive", ev.RequestID, subscriber, confirmTok, unsubscribeTok, "example.com"} {
		if strings.Contains(strings.ToLower(text), strings.ToLower(secret)) {
			t.Errorf("metric lines contain %q:\n%s", secret, text)
		}
	}
}

// The dashboard in template.yaml charts the metrics written here, by the
// names Counts gives them, and no others.
func TestTemplateDashboardUsesTheseMetrics(t *testing.T) {
	data, err := os.ReadFile("../../../template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	tmpl := string(data)
	start := strings.Index(tmpl, "AWS::CloudWatch::Dashboard")
	if start < 0 {
		t.Fatal("template.yaml has no AWS::CloudWatch::Dashboard")
	}
	body := tmpl[start:]
	if end := strings.Index(body, "\n  # "); end > 0 { // the next resource's comment
		body = body[:end]
	}
	known := map[string]bool{}
	for _, n := range (consent.Counts{}).Named() {
		known[n.Name] = true
		if !strings.Contains(body, `MetricName=\"`+n.Name+`\"`) {
			t.Errorf("the dashboard does not chart %s", n.Name)
		}
	}
	for _, m := range regexp.MustCompile(`MetricName=\\"([A-Za-z]+)\\"`).FindAllStringSubmatch(body, -1) {
		if !known[m[1]] {
			t.Errorf("the dashboard charts %s, which no function writes", m[1])
		}
	}
	if !strings.Contains(body, `{`+emf.Namespace+`,`+emf.Dimension+`}`) {
		t.Errorf("the dashboard's searches do not name {%s,%s}", emf.Namespace, emf.Dimension)
	}
}
