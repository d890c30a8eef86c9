package consent_test

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/url"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/unbundled/unbundled/shared/consent"
	"github.com/unbundled/unbundled/shared/consent/consenttest"
	"github.com/unbundled/unbundled/shared/consent/consenttest/memstore"
	"github.com/unbundled/unbundled/shared/magnet"
)

// recordedMetrics is a consent.Metrics that adds up what it is told.
type recordedMetrics struct {
	mu    sync.Mutex
	tally consent.Tally
}

func (m *recordedMetrics) Record(_ context.Context, at time.Time, magnetID string, c consent.Counts) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.tally.Add(at, magnetID, c)
}

func (m *recordedMetrics) figures() []consent.DayFigures {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.tally.Figures()
}

// dashboardScript runs a scripted set of events through the service on
// the in-memory store — two magnets (guide asks for confirmation,
// checklist does not) over two days — and returns the service and what
// its Metrics were told as it happened.
func dashboardScript(t *testing.T) (*consent.Service, *recordedMetrics) {
	t.Helper()
	guide, checklist := consenttest.SampleMagnet(t), consenttest.SampleMagnet(t)
	guide.ID = "guide"
	checklist.ID, checklist.DoubleOptIn = "checklist", new(bool)
	store, mailer, metrics := memstore.New(), &consenttest.Mailer{}, &recordedMetrics{}
	day1 := time.Date(2026, 11, 28, 9, 0, 0, 0, time.UTC)
	now := day1
	svc := consenttest.Service(t, store, func() time.Time { return now })
	svc.Catalog = consenttest.CatalogOf(t, guide, checklist)
	svc.Limits = consent.Limits{EmailsPerAddress: 1, EmailWindow: 24 * time.Hour}
	svc.Metrics = metrics
	consenttest.DeliverAtOnce(t, svc, consent.CountedJobs{JobQueue: store, Metrics: metrics}, mailer)
	ctx := context.Background()
	req := 0
	evidence := func() consent.Evidence {
		req++ // each request has its own id, as on the web
		return consent.Evidence{SourceIP: "203.0.113.9", UserAgent: "test", RequestID: fmt.Sprintf("req-%d", req)}
	}
	signup := func(email string, m magnet.Magnet, ticked bool) {
		t.Helper()
		now = now.Add(time.Minute)
		err := svc.Signup(ctx, consent.SignupRequest{Email: email, Magnet: m.ID, Consent: ticked, Method: consent.MethodForm, Evidence: evidence()})
		if err != nil {
			t.Fatalf("sign-up %s for %s: %v", email, m.ID, err)
		}
	}
	subscriber := func(email string) string { return svc.Keys.Subject.SubscriberID(email) }
	confirm := func(email string, m magnet.Magnet) {
		t.Helper()
		now = now.Add(time.Minute)
		ledger, _ := store.Events(ctx, subscriber(email))
		u, _ := url.Parse(svc.ConfirmURL(ctx, subscriber(email), m, ledger[len(ledger)-1].ID))
		if _, err := svc.Confirm(ctx, u.Query().Get("t"), evidence()); err != nil {
			t.Fatalf("confirm %s: %v", email, err)
		}
	}
	withdraw := func(email string, m magnet.Magnet, method string) {
		t.Helper()
		now = now.Add(time.Minute)
		if _, err := svc.WithdrawController(ctx, consenttest.UnsubscribeToken(svc, subscriber(email), m.ID), method, evidence()); err != nil {
			t.Fatalf("withdraw %s: %v", email, err)
		}
	}
	feedback := func(id string, kind consent.FeedbackKind, email string) {
		t.Helper()
		now = now.Add(time.Minute)
		if err := svc.RecordFeedback(ctx, consent.Feedback{ID: id, Kind: kind, Recipients: []string{email}, At: now}); err != nil {
			t.Fatalf("feedback %s: %v", id, err)
		}
	}

	// Day 1.
	signup("ann@example.com", guide, true)
	signup("bob@example.com", guide, false)
	signup("cat@example.com", guide, true)
	signup("cat@example.com", guide, true) // a double click: the same sign-up
	confirm("ann@example.com", guide)      // its receipt is past ann's email cap
	signup("dan@example.com", checklist, true)
	signup("eve@example.com", checklist, false)
	withdraw("dan@example.com", checklist, consent.MethodOneClick)
	svc.RecordCounts(ctx, "guide", consent.Counts{BotTrapped: 1})
	svc.RecordCounts(ctx, consent.NoMagnet, consent.Counts{BotTrapped: 1})

	// Day 2.
	now = day1.Add(24 * time.Hour)
	signup("fay@example.com", guide, true)
	confirm("cat@example.com", guide) // confirms a day-1 sign-up
	withdraw("ann@example.com", guide, consent.MethodUnsubscribePage)
	withdraw("ann@example.com", guide, consent.MethodUnsubscribePage) // nothing left to withdraw
	feedback("n1", consent.FeedbackComplaint, "fay@example.com")      // withdraws fay's pending consent
	feedback("n1", consent.FeedbackComplaint, "fay@example.com")      // the same notification again
	feedback("n2", consent.FeedbackComplaint, "eve@example.com")      // no consent stood: counted for her magnet
	feedback("n3", consent.FeedbackPermanentBounce, "bob@example.com")
	signup("gus@example.com", checklist, false)
	signup("gus@example.com", guide, false) // past gus's email cap: limited
	mailer.Err = fmt.Errorf("%w: address does not exist", consent.ErrRejected)
	signup("hal@example.com", checklist, false) // the provider refuses it
	mailer.Err = nil
	svc.RecordCounts(ctx, "checklist", consent.Counts{RateLimited: 1})
	svc.RecordCounts(ctx, "checklist", consent.Counts{RateLimited: 1, BotTrapped: 1})
	return svc, metrics
}

// wantDashboard is what dashboardScript did, counted by hand.
var wantDashboard = []consent.DayFigures{
	{Day: "2026-11-28", Magnet: "checklist", Counts: consent.Counts{Signups: 2, Ticked: 1, WithdrawnOneClick: 1, FreebiesSent: 2}},
	{Day: "2026-11-29", Magnet: "checklist", Counts: consent.Counts{Signups: 2, WithdrawnComplaint: 1, FreebiesSent: 1, FreebiesFailed: 1, RateLimited: 2, BotTrapped: 1}},
	{Day: "2026-11-28", Magnet: "guide", Counts: consent.Counts{Signups: 3, Ticked: 2, ToConfirm: 2, Confirmed: 1, FreebiesSent: 3, BotTrapped: 1}},
	{Day: "2026-11-29", Magnet: "guide", Counts: consent.Counts{Signups: 2, Ticked: 1, ToConfirm: 1, Confirmed: 1, WithdrawnPage: 1, WithdrawnComplaint: 1, Bounced: 1, FreebiesSent: 1, FreebiesLimited: 1}},
	{Day: "2026-11-28", Magnet: consent.NoMagnet, Counts: consent.Counts{BotTrapped: 1}},
}

func TestDashboardFiguresFromTheStore(t *testing.T) {
	svc, metrics := dashboardScript(t)
	var tally consent.Tally
	if err := svc.TallyStored(context.Background(), &tally); err != nil {
		t.Fatal(err)
	}
	// The store cannot know the posts refused or trapped: they come from
	// the metrics, as on the local server.
	for _, f := range metrics.figures() {
		at, _ := time.Parse(consent.DayLayout, f.Day)
		tally.Add(at, f.Magnet, consent.Counts{RateLimited: f.RateLimited, BotTrapped: f.BotTrapped})
	}
	checkFigures(t, tally.Figures(), wantDashboard)
}

// What the functions report as they go (CloudWatch's figures) adds up to
// what the local dashboard tallies from the store.
func TestDashboardFiguresAsTheyHappen(t *testing.T) {
	_, metrics := dashboardScript(t)
	checkFigures(t, metrics.figures(), wantDashboard)
}

func checkFigures(t *testing.T, got, want []consent.DayFigures) {
	t.Helper()
	index := func(fs []consent.DayFigures) map[[2]string]consent.Counts {
		m := map[[2]string]consent.Counts{}
		for _, f := range fs {
			m[[2]string{f.Magnet, f.Day}] = f.Counts
		}
		return m
	}
	g, w := index(got), index(want)
	for k, wc := range w {
		if gc := g[k]; gc != wc {
			t.Errorf("%s on %s:\n got %+v\nwant %+v", k[0], k[1], gc, wc)
		}
	}
	for k, gc := range g {
		if _, ok := w[k]; !ok {
			t.Errorf("%s on %s: unexpected %+v", k[0], k[1], gc)
		}
	}
	if !slices.IsSortedFunc(got, func(a, b consent.DayFigures) int {
		return cmp.Or(cmp.Compare(a.Magnet, b.Magnet), cmp.Compare(a.Day, b.Day))
	}) {
		t.Errorf("figures not ordered by magnet, then day: %v", got)
	}
}

func TestPercentages(t *testing.T) {
	for _, tc := range []struct {
		c                   consent.Counts
		ticked, confirmed   float64
		tickedOK, confirmOK bool
	}{
		{consent.Counts{}, 0, 0, false, false},
		{consent.Counts{Signups: 4, Ticked: 1}, 25, 0, true, false},
		{consent.Counts{Signups: 2, Ticked: 2, ToConfirm: 2, Confirmed: 1}, 100, 50, true, true},
		{consent.Counts{ToConfirm: 1, Confirmed: 2}, 0, 200, false, true},
	} {
		ticked, tok := tc.c.TickedPercent()
		confirmed, cok := tc.c.ConfirmedPercent()
		if ticked != tc.ticked || tok != tc.tickedOK || confirmed != tc.confirmed || cok != tc.confirmOK {
			t.Errorf("%+v: got ticked %v %v, confirmed %v %v; want %v %v, %v %v",
				tc.c, ticked, tok, confirmed, cok, tc.ticked, tc.tickedOK, tc.confirmed, tc.confirmOK)
		}
	}
}

// How events written together count: once per request, not per event.
func TestTallyCountsRequestsNotEvents(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	ev := func(typ consent.EventType, mag, method, req string, mod ...func(*consent.Event)) consent.Event {
		e := consent.Event{Type: typ, At: at, Magnet: mag, Method: method, RequestID: req}
		for _, f := range mod {
			f(&e)
		}
		return e
	}
	confirmReq := func(e *consent.Event) { e.ConfirmationRequired = true }
	limited := func(e *consent.Event) { e.Delivery = consent.DeliveryLimited }
	later := func(e *consent.Event) { e.At = at.Add(time.Hour) }
	for _, tc := range []struct {
		name   string
		ledger []consent.Event
		from   int
		want   consent.Counts // all on magnet m, day 2026-01-02
	}{
		{"two boxes ticked are one ticked sign-up", []consent.Event{
			ev(consent.EventSignup, "m", consent.MethodForm, "r1"),
			ev(consent.EventGranted, "m", consent.MethodCheckbox, "r1", confirmReq),
			ev(consent.EventGranted, "m", consent.MethodCheckbox, "r1", confirmReq),
		}, 0, consent.Counts{Signups: 1, Ticked: 1, ToConfirm: 1}},
		{"a later request's grant is not this sign-up's", []consent.Event{
			ev(consent.EventSignup, "m", consent.MethodForm, "r1", limited),
			ev(consent.EventSignup, "m", consent.MethodForm, "r2"),
			ev(consent.EventGranted, "m", consent.MethodCheckbox, "r2"),
		}, 0, consent.Counts{Signups: 2, Ticked: 1, FreebiesLimited: 1}},
		{"one click confirming two boxes is one confirmation", []consent.Event{
			ev(consent.EventConfirmed, "m", consent.MethodConfirmLink, "r1"),
			ev(consent.EventConfirmed, "m", consent.MethodConfirmLink, "r1"),
			ev(consent.EventConfirmed, "m", consent.MethodConfirmLink, "r2"),
		}, 0, consent.Counts{Confirmed: 2}},
		{"leaving every purpose is one withdrawal; an objection by unsubscribing counts", []consent.Event{
			ev(consent.EventWithdrawn, "m", consent.MethodUnsubscribePage, "r1"),
			ev(consent.EventWithdrawn, "m", consent.MethodUnsubscribePage, "r1"),
			ev(consent.EventObjected, "m", consent.MethodOneClick, "r2"),
			ev(consent.EventObjected, "m", consent.MethodOperator, "r3"),
		}, 0, consent.Counts{WithdrawnPage: 1, WithdrawnOneClick: 1}},
		{"only events from `from` count; earlier ones name the bounce's magnet", []consent.Event{
			ev(consent.EventSignup, "m", consent.MethodForm, "r1"),
			ev(consent.EventSuppressed, "", consent.MethodBounce, ""),
			ev(consent.EventSuppressed, "", consent.MethodOperator, "r2"),
		}, 1, consent.Counts{Bounced: 1}},
		{"a complaint counts by its withdrawals", []consent.Event{
			ev(consent.EventSignup, "m", consent.MethodForm, "r1", later),
			ev(consent.EventSuppressed, "", consent.MethodComplaint, ""),
			ev(consent.EventWithdrawn, "m", consent.MethodComplaint, ""),
		}, 1, consent.Counts{WithdrawnComplaint: 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var tally consent.Tally
			tally.AddLedger(tc.ledger, tc.from)
			want := []consent.DayFigures{{Day: "2026-01-02", Magnet: "m", Counts: tc.want}}
			checkFigures(t, tally.Figures(), want)
		})
	}

	var tally consent.Tally
	tally.AddLedger([]consent.Event{ev(consent.EventSuppressed, "", consent.MethodBounce, "")}, 0)
	checkFigures(t, tally.Figures(), []consent.DayFigures{{Day: "2026-01-02", Magnet: consent.NoMagnet, Counts: consent.Counts{Bounced: 1}}})
}

func TestCountedJobsReportsFinishedFreebies(t *testing.T) {
	store, metrics := memstore.New(), &recordedMetrics{}
	at := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	jobs := consent.CountedJobs{JobQueue: store, Metrics: metrics}
	for i, kind := range []consent.JobKind{consent.JobFreebie, consent.JobFreebie, consent.JobReceipt} {
		job := consent.Job{ID: fmt.Sprintf("j%d", i), Kind: kind, Subscriber: "s", Magnet: "m", Email: "a@example.com", State: consent.JobPending, CreatedAt: at, UpdatedAt: at, ExpiresAt: at.Add(time.Hour)}
		if err := store.Commit(context.Background(), consent.Write{Jobs: []consent.Job{job}, Now: at}); err != nil {
			t.Fatal(err)
		}
	}
	move := func(id string, from, to consent.JobState) error {
		_, err := jobs.UpdateJob(context.Background(), consent.JobUpdate{ID: id, From: from, To: to, UpdatedAt: at, ExpiresAt: at.Add(time.Hour)})
		return err
	}
	for _, step := range []struct {
		id       string
		from, to consent.JobState
	}{
		{"j0", consent.JobPending, consent.JobSending}, {"j0", consent.JobSending, consent.JobSent},
		{"j1", consent.JobPending, consent.JobSending}, {"j1", consent.JobSending, consent.JobFailed},
		{"j2", consent.JobPending, consent.JobSending}, {"j2", consent.JobSending, consent.JobSent},
	} {
		if err := move(step.id, step.from, step.to); err != nil {
			t.Fatalf("%s %s -> %s: %v", step.id, step.from, step.to, err)
		}
	}
	if err := move("j0", consent.JobSending, consent.JobSent); !errors.Is(err, consent.ErrConflict) {
		t.Fatalf("a refused update: got %v, want ErrConflict", err)
	}
	checkFigures(t, metrics.figures(), []consent.DayFigures{{Day: "2026-03-04", Magnet: "m", Counts: consent.Counts{FreebiesSent: 1, FreebiesFailed: 1}}})
}

// Named and Plus cover every figure, so a figure added to Counts reaches
// the metrics and the sums.
func TestCountsNamedAndPlusCoverEveryField(t *testing.T) {
	typ := reflect.TypeFor[consent.Counts]()
	var c consent.Counts
	v := reflect.ValueOf(&c).Elem()
	for i := range typ.NumField() {
		v.Field(i).SetInt(int64(i + 1))
	}
	named := c.Named()
	if len(named) != typ.NumField() {
		t.Fatalf("Named lists %d figures, Counts has %d", len(named), typ.NumField())
	}
	for i, n := range named {
		if f, ok := typ.FieldByName(n.Name); !ok || n.Value != int(v.FieldByIndex(f.Index).Int()) {
			t.Errorf("Named()[%d] = %+v: not the field of that name", i, n)
		}
	}
	sum := c.Plus(c)
	sv := reflect.ValueOf(sum)
	for i := range typ.NumField() {
		if got, want := sv.Field(i).Int(), int64(2*(i+1)); got != want {
			t.Errorf("Plus: %s = %d, want %d", typ.Field(i).Name, got, want)
		}
	}
}
