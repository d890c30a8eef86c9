package consent

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"
)

// The consent dashboard: what happened per magnet and UTC day. The local
// server shows it at /_local/dashboard, tallied from the ledger and the
// delivery jobs; on AWS the functions report the same counts as they
// happen (Metrics) and CloudWatch adds them up. Every figure is counted on
// the day it happened: a confirmation on the day of the click, not of the
// sign-up it confirms.

// Counts are the dashboard's figures for one magnet over some time: a UTC
// day in DayFigures, one ledger write or one request in Metrics.Record.
// Each field is also a CloudWatch metric of the same name (see Named).
type Counts struct {
	// Signups are accepted sign-ups (`signup` events), ticked or not.
	Signups int
	// Ticked are sign-ups that ticked at least one box: `granted` events
	// (method checkbox) written with the sign-up. A box ticked by someone
	// whose consent already stands adds no grant, so is not counted.
	Ticked int
	// ToConfirm are ticked sign-ups whose consent waits for the confirm
	// link (double opt-in).
	ToConfirm int
	// Confirmed are confirm-link clicks that confirmed consent: one per
	// click, however many boxes it confirmed.
	Confirmed int
	// WithdrawnOneClick and WithdrawnPage are people who left by the
	// email's one-click unsubscribe or by the unsubscribe page's button:
	// one per person and magnet, however many purposes it ended.
	WithdrawnOneClick int
	WithdrawnPage     int
	// WithdrawnComplaint are spam complaints, which end every consent
	// standing: one for each magnet whose consent a complaint ended, or
	// one for the magnet the person last used if none stood.
	WithdrawnComplaint int
	// Bounced are permanent bounces (the address is suppressed), counted
	// for the magnet the person last used.
	Bounced int
	// FreebiesSent and FreebiesFailed are freebie emails the mail provider
	// accepted, or refused for good.
	FreebiesSent   int
	FreebiesFailed int
	// FreebiesLimited are sign-ups past the address's email cap: recorded,
	// nothing emailed (DeliveryLimited).
	FreebiesLimited int
	// RateLimited are sign-up posts answered 429 because their source was
	// over its limit, and BotTrapped sign-up posts dropped as bots
	// (honeypot, time-trap, bad form stamp). Nothing is stored for either,
	// so only Metrics sees them.
	RateLimited int
	BotTrapped  int
}

// NamedCount is one figure of Counts with its metric name.
type NamedCount struct {
	Name  string
	Value int
}

// Named lists every figure of c, zero or not, in a fixed order, by its
// metric name (the field's name). Counts{}.Named() lists the names.
func (c Counts) Named() []NamedCount {
	return []NamedCount{
		{"Signups", c.Signups}, {"Ticked", c.Ticked}, {"ToConfirm", c.ToConfirm}, {"Confirmed", c.Confirmed},
		{"WithdrawnOneClick", c.WithdrawnOneClick}, {"WithdrawnPage", c.WithdrawnPage}, {"WithdrawnComplaint", c.WithdrawnComplaint},
		{"Bounced", c.Bounced},
		{"FreebiesSent", c.FreebiesSent}, {"FreebiesFailed", c.FreebiesFailed}, {"FreebiesLimited", c.FreebiesLimited},
		{"RateLimited", c.RateLimited}, {"BotTrapped", c.BotTrapped},
	}
}

// Plus returns the sum of c and o, figure by figure.
func (c Counts) Plus(o Counts) Counts {
	return Counts{
		Signups: c.Signups + o.Signups, Ticked: c.Ticked + o.Ticked, ToConfirm: c.ToConfirm + o.ToConfirm, Confirmed: c.Confirmed + o.Confirmed,
		WithdrawnOneClick: c.WithdrawnOneClick + o.WithdrawnOneClick, WithdrawnPage: c.WithdrawnPage + o.WithdrawnPage,
		WithdrawnComplaint: c.WithdrawnComplaint + o.WithdrawnComplaint, Bounced: c.Bounced + o.Bounced,
		FreebiesSent: c.FreebiesSent + o.FreebiesSent, FreebiesFailed: c.FreebiesFailed + o.FreebiesFailed,
		FreebiesLimited: c.FreebiesLimited + o.FreebiesLimited, RateLimited: c.RateLimited + o.RateLimited, BotTrapped: c.BotTrapped + o.BotTrapped,
	}
}

// TickedPercent is the share of sign-ups that ticked a box, in percent;
// ok is false when there were no sign-ups.
func (c Counts) TickedPercent() (pct float64, ok bool) { return percent(c.Ticked, c.Signups) }

// ConfirmedPercent is confirmations per ticked sign-up that needed one, in
// percent; ok is false when none needed one. Both are counted on the day
// they happened, so over one day confirmations of earlier sign-ups can
// take it past 100; over a longer period it is the confirmation rate.
func (c Counts) ConfirmedPercent() (pct float64, ok bool) { return percent(c.Confirmed, c.ToConfirm) }

func percent(n, of int) (float64, bool) {
	if of == 0 {
		return 0, false
	}
	return 100 * float64(n) / float64(of), true
}

// DayFigures are one magnet's Counts on one UTC day.
type DayFigures struct {
	Day    string // YYYY-MM-DD, UTC
	Magnet string
	Counts
}

// NoMagnet is the magnet a figure is counted for when none can be told:
// a bounce of someone whose ledger names no magnet, or a post trapped as
// a bot naming a magnet that is not configured.
const NoMagnet = "unknown"

// DayLayout formats DayFigures.Day.
const DayLayout = "2006-01-02"

// Tally adds up Counts per magnet and UTC day, from ledgers, delivery jobs
// and counts reported through Metrics. The zero value is empty and ready;
// a Tally is not safe for concurrent use.
type Tally struct {
	days map[dayMagnet]Counts
}

type dayMagnet struct{ day, magnet string }

// Add adds c to magnet's figures on the UTC day of at ("" counts for
// NoMagnet). Adding zero counts changes nothing.
func (t *Tally) Add(at time.Time, magnet string, c Counts) {
	if c == (Counts{}) {
		return
	}
	if magnet == "" {
		magnet = NoMagnet
	}
	if t.days == nil {
		t.days = map[dayMagnet]Counts{}
	}
	k := dayMagnet{at.UTC().Format(DayLayout), magnet}
	t.days[k] = t.days[k].Plus(c)
}

// AddJob counts a freebie job that was sent or failed, on the day it was
// last updated (when it finished). Other jobs and states count nothing.
func (t *Tally) AddJob(j Job) {
	if j.Kind != JobFreebie {
		return
	}
	switch j.State {
	case JobSent:
		t.Add(j.UpdatedAt, j.Magnet, Counts{FreebiesSent: 1})
	case JobFailed:
		t.Add(j.UpdatedAt, j.Magnet, Counts{FreebiesFailed: 1})
	}
}

// AddLedger counts the events ledger[from:] of one subscriber's ledger,
// oldest (lowest Seq) first; the events before from are only read, to tell
// which magnet a bounce concerns. AddLedger(l, 0) counts a whole ledger;
// AddLedger(append(before, written...), len(before)) counts one write.
// The events one request wrote together share their time and request id,
// which is how a sign-up's grants, and one click's confirmations and
// withdrawals, are told apart from the next request's.
func (t *Tally) AddLedger(ledger []Event, from int) {
	for i := max(from, 0); i < len(ledger); i++ {
		e := ledger[i]
		switch e.Type {
		case EventSignup:
			c := Counts{Signups: 1}
			if e.Delivery == DeliveryLimited {
				c.FreebiesLimited = 1
			}
			for _, g := range sameWrite(ledger, i, 1, EventGranted) {
				if g.Method == MethodCheckbox {
					c.Ticked = 1
					if g.ConfirmationRequired {
						c.ToConfirm = 1
					}
				}
			}
			t.Add(e.At, e.Magnet, c)
		case EventConfirmed:
			if !slices.ContainsFunc(sameWrite(ledger, i, -1, EventConfirmed), func(p Event) bool { return p.Magnet == e.Magnet }) {
				t.Add(e.At, e.Magnet, Counts{Confirmed: 1})
			}
		case EventWithdrawn, EventObjected:
			c := withdrawal(e.Method)
			if c == (Counts{}) {
				continue // the operator's objections are not people leaving
			}
			if !slices.ContainsFunc(sameWrite(ledger, i, -1, EventWithdrawn, EventObjected), func(p Event) bool {
				return p.Magnet == e.Magnet && p.Method == e.Method
			}) {
				t.Add(e.At, e.Magnet, c)
			}
		case EventSuppressed:
			switch e.Method {
			case MethodBounce:
				t.Add(e.At, lastMagnet(ledger[:i]), Counts{Bounced: 1})
			case MethodComplaint:
				// Counted by its withdrawals, if it ended any consent.
				if !slices.ContainsFunc(sameWrite(ledger, i, 1, EventWithdrawn), func(w Event) bool { return w.Method == MethodComplaint }) {
					t.Add(e.At, lastMagnet(ledger[:i]), Counts{WithdrawnComplaint: 1})
				}
			}
		}
	}
}

// withdrawal is what leaving by method counts.
func withdrawal(method string) Counts {
	switch method {
	case MethodOneClick:
		return Counts{WithdrawnOneClick: 1}
	case MethodUnsubscribePage:
		return Counts{WithdrawnPage: 1}
	case MethodComplaint:
		return Counts{WithdrawnComplaint: 1}
	}
	return Counts{}
}

// sameWrite returns the events of one of types next to ledger[i] in
// direction dir (1: after it, -1: before it; nearest first) that the same
// request wrote with it: the unbroken run with its time and request id.
func sameWrite(ledger []Event, i, dir int, types ...EventType) []Event {
	var run []Event
	for j := i + dir; j >= 0 && j < len(ledger); j += dir {
		o := ledger[j]
		if !o.At.Equal(ledger[i].At) || o.RequestID != ledger[i].RequestID || !slices.Contains(types, o.Type) {
			break
		}
		run = append(run, o)
	}
	return run
}

// lastMagnet is the magnet of the latest event in ledger that names one,
// or "" if none does.
func lastMagnet(ledger []Event) string {
	for i := len(ledger) - 1; i >= 0; i-- {
		if ledger[i].Magnet != "" {
			return ledger[i].Magnet
		}
	}
	return ""
}

// Figures returns the tally, one DayFigures per magnet and day with any
// figure, ordered by magnet, then day (oldest first).
func (t *Tally) Figures() []DayFigures {
	out := make([]DayFigures, 0, len(t.days))
	for k, c := range t.days {
		out = append(out, DayFigures{Day: k.day, Magnet: k.magnet, Counts: c})
	}
	slices.SortFunc(out, func(a, b DayFigures) int {
		return cmp.Or(cmp.Compare(a.Magnet, b.Magnet), cmp.Compare(a.Day, b.Day))
	})
	return out
}

// dashboardEvents are the event types AddLedger counts or reads.
var dashboardEvents = []EventType{EventSignup, EventGranted, EventConfirmed, EventWithdrawn, EventObjected, EventSuppressed, EventImported}

// TallyStored adds to t the figures held in the store: every event in the
// ledger (through Scanner) and every freebie job (through Jobs). It reads
// the whole table and keeps what it counts from in memory: for the local
// dashboard and the operator, never on a request's path. Jobs expire
// (their TTL), so their figures cover only the last 30 days or so.
func (s *Service) TallyStored(ctx context.Context, t *Tally) error {
	if s.Scanner == nil || s.Jobs == nil {
		return fmt.Errorf("tally: the service has no ledger scanner or job lister")
	}
	ledgers := map[string][]Event{}
	err := s.Scanner.ScanEvents(ctx, dashboardEvents, func(e Event) error {
		// Only what AddLedger reads: no address, name or evidence is kept.
		ledgers[e.Subscriber] = append(ledgers[e.Subscriber], Event{
			Seq: e.Seq, Type: e.Type, At: e.At, Magnet: e.Magnet, Method: e.Method, RequestID: e.RequestID,
			ConfirmationRequired: e.ConfirmationRequired, Delivery: e.Delivery,
		})
		return nil
	})
	if err != nil {
		return fmt.Errorf("tally: scan ledger: %w", err)
	}
	for _, ledger := range ledgers {
		slices.SortFunc(ledger, func(a, b Event) int { return cmp.Compare(a.Seq, b.Seq) })
		t.AddLedger(ledger, 0)
	}
	err = s.Jobs.ListJobs(ctx, JobFilter{}, func(j Job) error {
		t.AddJob(j)
		return nil
	})
	if err != nil {
		return fmt.Errorf("tally: list jobs: %w", err)
	}
	return nil
}

// Metrics receives the dashboard's counts as things happen: on AWS as
// CloudWatch metrics (embedded metric format log lines), on the local
// server in memory. Record must be safe for concurrent use and quick, and
// cannot fail a request: an implementation that cannot record drops the
// counts. It must never be given personal data, and is not: magnet ids,
// times and counts only.
type Metrics interface {
	// Record adds c to magnet's counts at time at.
	Record(ctx context.Context, at time.Time, magnet string, c Counts)
}

// RecordCounts reports c for magnet now through Metrics, if set: the web
// layer's sign-up posts refused (RateLimited) or dropped as bots
// (BotTrapped), which leave nothing in the ledger.
func (s *Service) RecordCounts(ctx context.Context, magnet string, c Counts) {
	if s.Metrics != nil && c != (Counts{}) {
		s.Metrics.Record(ctx, s.Now().UTC(), magnet, c)
	}
}

// recordWrite reports through Metrics, if set, the figures of events just
// written at the end of before, the subscriber's ledger as it was.
func (s *Service) recordWrite(ctx context.Context, before, written []Event) {
	if s.Metrics == nil || len(written) == 0 {
		return
	}
	var t Tally
	t.AddLedger(slices.Concat(before, written), len(before))
	for _, f := range t.Figures() {
		s.Metrics.Record(ctx, written[0].At, f.Magnet, f.Counts)
	}
}

// CountedJobs is a JobQueue whose UpdateJob also reports through Metrics
// each freebie job it moves to sent or failed, at the job's UpdatedAt. Give
// it to a Deliverer so each delivering instance reports what it delivered.
type CountedJobs struct {
	JobQueue
	Metrics Metrics
}

// UpdateJob implements JobQueue.
func (q CountedJobs) UpdateJob(ctx context.Context, u JobUpdate) (Job, error) {
	j, err := q.JobQueue.UpdateJob(ctx, u)
	if err == nil && q.Metrics != nil {
		var t Tally
		t.AddJob(j)
		for _, f := range t.Figures() {
			q.Metrics.Record(ctx, j.UpdatedAt, f.Magnet, f.Counts)
		}
	}
	return j, err
}
