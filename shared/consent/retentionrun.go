package consent

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// RetentionRule names the rule under which the retention run erased a
// person.
type RetentionRule string

const (
	// RetentionUnconfirmed: the person never held a marketing basis — a
	// freebie-only sign-up, or consent never confirmed — and was last
	// active longer ago than Retention.Unconfirmed.
	RetentionUnconfirmed RetentionRule = "unconfirmed"
	// RetentionWithdrawn: the person withdrew every basis they held, the
	// latest withdrawal longer ago than Retention.Withdrawn, and nothing
	// stands.
	RetentionWithdrawn RetentionRule = "withdrawn"
)

// RetentionOptions tune one retention run.
type RetentionOptions struct {
	// DryRun decides and reports exactly as a run would, and writes nothing.
	DryRun bool
	// Progress, if set, is called after each person with how many of the
	// total have been dealt with.
	Progress func(done, total int)
}

// RetentionReport is what one retention run did (or, on a dry run, would
// do). Erasures name addresses: show it to the operator, never log it.
type RetentionReport struct {
	At     time.Time     `json:"at"`
	DryRun bool          `json:"dry_run"`
	Policy RetentionDays `json:"policy"`
	// People is how many ledgers were examined; Kept how many of them
	// stay (minimised or not), Failed how many could not be dealt with
	// (the error names the first).
	People int `json:"people"`
	Kept   int `json:"kept"`
	Failed int `json:"failed,omitempty"`
	// ErasedUnconfirmed and ErasedWithdrawn count the people erased under
	// each rule; Erasures lists them.
	ErasedUnconfirmed int `json:"erased_unconfirmed"`
	ErasedWithdrawn   int `json:"erased_withdrawn"`
	// PeopleMinimised and EventsMinimised count the kept people whose old
	// evidence was minimised, and their events changed.
	PeopleMinimised int                `json:"people_minimised"`
	EventsMinimised int                `json:"events_minimised"`
	Erasures        []RetentionErasure `json:"erasures"`
}

// RetentionErasure is one person the retention run erased.
type RetentionErasure struct {
	Email string        `json:"email"`
	Rule  RetentionRule `json:"rule"`
	// Reason is the tombstone's: the minimum needed to show what happened.
	Reason string `json:"reason"`
	// Erased counts what was deleted; on a dry run, the events that would
	// be (claims and jobs are not looked up).
	Erased Erased `json:"erased"`
}

// ApplyRetention applies the storage-limitation policy s.Retention (zero
// periods: DefaultRetention) to everyone in the ledger, as of s.Now():
//
//   - A person with an `objected` or `suppressed` event is never erased:
//     their "do not contact" must be kept. Only their evidence is minimised.
//   - A person who holds no standing marketing basis for any purpose (no
//     consent active, or awaiting confirmation within the unconfirmed
//     period; no imported basis they have not withdrawn from), never held
//     confirmed or single opt-in consent or an imported basis, and whose
//     last event is older than Retention.Unconfirmed, is erased — a
//     freebie-only sign-up, or double opt-in never confirmed.
//   - A person who held a basis, withdrew from everything and holds none,
//     whose latest withdrawal is older than Retention.Withdrawn and whose
//     last event is older than Retention.Unconfirmed, is erased.
//   - Everyone kept has the evidence of their events older than
//     Retention.Evidence minimised (see MinimisedEvidence).
//
// Erasing works as Erase does — the ledger, claims and delivery jobs go and
// a tombstone stays, so no import re-adds the person — with a reason that
// says which rule applied and the minimum needed to show what happened:
// "retention: freebie only, last activity 2026-01-02", or "retention:
// withdrew 2024-03-01 by one-click unsubscribe (consent given 2023-01-05 on
// magnet 'x', confirmed 2023-01-05)". A person with active consent is
// never erased, however old their ledger.
//
// People are dealt with in random order, so a run cut short — by ctx, or a
// Lambda function's time limit — reaches others the next time; the report
// lists erasures by address. Each ledger is read whole just before its
// person is decided; a sign-up written between that read and the erasure
// may be erased with it (as with Erase). A policy outside the bounds
// Retention.Check sets is refused. A person who cannot be dealt with is
// counted in Failed and the run goes on; the error then names the first.
// If ctx ends the run stops, returning the report so far. Running again
// changes only what became due since.
func (s *Service) ApplyRetention(ctx context.Context, opts RetentionOptions) (RetentionReport, error) {
	policy := s.Retention.Effective()
	if err := policy.Check(); err != nil {
		return RetentionReport{}, err
	}
	switch {
	case s.Scanner == nil || s.Erasure == nil:
		return RetentionReport{}, errors.New("retention: the service has no ledger scanner or eraser")
	case s.Minimiser == nil && !opts.DryRun:
		return RetentionReport{}, errors.New("retention: the service has no evidence minimiser")
	}
	now := s.Now().UTC()
	report := RetentionReport{At: now, DryRun: opts.DryRun, Policy: policy.Days(), Erasures: []RetentionErasure{}}
	seen := map[string]bool{}
	err := s.Scanner.ScanEvents(ctx, nil, func(e Event) error {
		seen[e.Subscriber] = true
		return nil
	})
	if err != nil {
		return report, fmt.Errorf("retention: scan ledger: %w", err)
	}
	// In random order: a run cut short (a Lambda function's time limit)
	// reaches other people the next time, not the same ones again.
	subscribers := slices.Collect(maps.Keys(seen))
	rand.Shuffle(len(subscribers), func(i, j int) { subscribers[i], subscribers[j] = subscribers[j], subscribers[i] })
	byAddress := func() RetentionReport {
		slices.SortFunc(report.Erasures, func(a, b RetentionErasure) int { return cmp.Compare(a.Email, b.Email) })
		return report
	}
	var firstErr error
	for i, subscriber := range subscribers {
		if err := ctx.Err(); err != nil {
			return byAddress(), fmt.Errorf("retention: stopped after %d of %d people: %w", i, len(subscribers), err)
		}
		if err := s.retainOne(ctx, subscriber, policy, now, opts.DryRun, &report); err != nil {
			if ctx.Err() != nil {
				return byAddress(), fmt.Errorf("retention: stopped after %d of %d people: %w", i, len(subscribers), err)
			}
			report.Failed++
			if firstErr == nil {
				firstErr = err
			}
		}
		if opts.Progress != nil {
			opts.Progress(i+1, len(subscribers))
		}
	}
	if firstErr != nil {
		return byAddress(), fmt.Errorf("retention: %d of %d people could not be dealt with; the first: %w", report.Failed, report.People, firstErr)
	}
	return byAddress(), nil
}

// retainOne applies the policy to one person and adds the outcome to r.
func (s *Service) retainOne(ctx context.Context, subscriber string, policy Retention, now time.Time, dryRun bool, r *RetentionReport) error {
	ledger, err := s.Ledger.Events(ctx, subscriber)
	if err != nil {
		return fmt.Errorf("read ledger: %w", err)
	}
	if len(ledger) == 0 {
		return nil // erased since the scan
	}
	r.People++
	plan := planRetention(ledger, policy, now)
	email := lastEmail(ledger)
	if canonical, err := NormaliseAddress(email); err == nil {
		email = canonical
	}
	if plan.rule != "" && email != "" {
		erasure := RetentionErasure{Email: email, Rule: plan.rule, Reason: plan.reason, Erased: Erased{Events: len(ledger)}}
		if !dryRun {
			t := Tombstone{ID: s.Keys.Subject.TombstoneID(email), At: now, Reason: plan.reason}
			if erasure.Erased, err = s.Erasure.Erase(ctx, subscriber, t); err != nil {
				return fmt.Errorf("erase: %w", err)
			}
		}
		r.Erasures = append(r.Erasures, erasure)
		if plan.rule == RetentionWithdrawn {
			r.ErasedWithdrawn++
		} else {
			r.ErasedUnconfirmed++
		}
		return nil
	}
	r.Kept++
	n := plan.minimise
	if n > 0 && !dryRun {
		if n, err = s.Minimiser.MinimiseEvidence(ctx, subscriber, now.Add(-policy.Evidence)); err != nil {
			return fmt.Errorf("minimise evidence: %w", err)
		}
	}
	if n > 0 {
		r.PeopleMinimised++
		r.EventsMinimised += n
	}
	return nil
}

// retentionPlan is what the policy asks for one person: erasure under rule
// (with the tombstone's reason), or — rule empty — keeping them with
// minimise events to minimise.
type retentionPlan struct {
	rule     RetentionRule
	reason   string
	minimise int
}

// planRetention decides for one ledger (oldest first, not empty); see
// ApplyRetention for the rules.
func planRetention(ledger []Event, policy Retention, now time.Time) retentionPlan {
	last := ledger[0].At
	doNotContact := false
	for _, e := range ledger {
		if e.At.After(last) {
			last = e.At
		}
		if e.Type == EventObjected {
			doNotContact = true
		}
	}
	// A suppression in force is a "do not contact" to keep; one the
	// operator lifted is not.
	if suppressed, _ := Suppressed(ledger); suppressed {
		doNotContact = true
	}
	quiet := last.Before(now.Add(-policy.Unconfirmed))
	if !doNotContact && quiet && !basisStands(ledger, policy, now) {
		if !everHeldBasis(ledger) {
			return retentionPlan{rule: RetentionUnconfirmed, reason: unconfirmedReason(ledger, last)}
		}
		if w, ok := latestOf(ledger, EventWithdrawn); ok && w.At.Before(now.Add(-policy.Withdrawn)) {
			return retentionPlan{rule: RetentionWithdrawn, reason: withdrawnReason(ledger)}
		}
	}
	cutoff := now.Add(-policy.Evidence)
	plan := retentionPlan{}
	for _, e := range ledger {
		if e.At.Before(cutoff) && evidenceToMinimise(e) {
			plan.minimise++
		}
	}
	return plan
}

// basisStands reports whether any purpose in the ledger has a standing
// basis: consent active, or awaiting confirmation since within the
// unconfirmed period, or an imported basis the person has not withdrawn
// from. An imported soft opt-in counts whatever categories its purpose
// now declares: a configuration change must not erase customers.
func basisStands(ledger []Event, policy Retention, now time.Time) bool {
	for _, p := range ledgerPurposes(ledger) {
		st := MarketingStatus(ledger, p)
		switch {
		case st.State == StateActive:
			return true
		case st.State == StatePending && !st.Granted.At.Before(now.Add(-policy.Unconfirmed)):
			return true
		}
		if _, imported := lastImport(ledger, p); imported {
			if _, withdrew := withdrawalFrom(ledger, p); !withdrew {
				return true
			}
		}
	}
	return false
}

// everHeldBasis reports whether the person ever held a basis: consent
// confirmed, or given where no confirmation was asked, or imported.
func everHeldBasis(ledger []Event) bool {
	return slices.ContainsFunc(ledger, func(e Event) bool {
		return e.Type == EventConfirmed || e.Type == EventImported || e.Type == EventGranted && !e.ConfirmationRequired
	})
}

// ledgerPurposes lists, sorted, every purpose the ledger's grants,
// confirmations, withdrawals and imports concern.
func ledgerPurposes(ledger []Event) []string {
	var ps []string
	for _, e := range ledger {
		switch e.Type {
		case EventGranted, EventConfirmed, EventWithdrawn, EventImported:
			if p := EventPurpose(ledger, e); !slices.Contains(ps, p) {
				ps = append(ps, p)
			}
		}
	}
	slices.Sort(ps)
	return ps
}

// latestOf returns the last event of type typ in the ledger.
func latestOf(ledger []Event, typ EventType) (Event, bool) {
	for i := len(ledger) - 1; i >= 0; i-- {
		if ledger[i].Type == typ {
			return ledger[i], true
		}
	}
	return Event{}, false
}

// unconfirmedReason is the tombstone reason under RetentionUnconfirmed.
func unconfirmedReason(ledger []Event, last time.Time) string {
	activity := "last activity " + last.UTC().Format("2006-01-02")
	if g, ok := firstOfType(ledger, EventGranted); ok {
		return clipReason(fmt.Sprintf("retention: consent given %s on magnet '%s' never confirmed, %s", day(g), g.Magnet, activity))
	}
	return "retention: freebie only, " + activity
}

// withdrawnReason is the tombstone reason under RetentionWithdrawn: the
// latest withdrawal that ended a basis, with the basis it ended.
func withdrawnReason(ledger []Event) string {
	var latest Event
	for i := len(ledger) - 1; i >= 0; i-- {
		w := ledger[i]
		if w.Type != EventWithdrawn {
			continue
		}
		if latest.ID == "" {
			latest = w
		}
		if basis := basisEndedBy(ledger[:i], EventPurpose(ledger, w)); basis != "" {
			return clipReason(fmt.Sprintf("retention: withdrew %s by %s (%s)", day(w), methodWords(w.Method), basis))
		}
	}
	return clipReason(fmt.Sprintf("retention: withdrew %s by %s", day(latest), methodWords(latest.Method)))
}

// basisEndedBy describes the basis that stood, in the ledger before a
// withdrawal, for purpose or — when purpose is a controller's marketing —
// for one of its narrower purposes: the consent (when given and on which
// magnet, when confirmed) or the import.
func basisEndedBy(before []Event, purpose string) string {
	for _, p := range ledgerPurposes(before) {
		if controller, _, _ := strings.Cut(p, "/"); p != purpose && controller != purpose {
			continue
		}
		if MarketingStatus(before, p).State == StateActive {
			return Decide(before, p).Reason
		}
		if i, ok := lastImport(before, p); ok {
			return fmt.Sprintf("%s imported %s from %s", i.Basis, day(i), i.Import.File)
		}
	}
	return ""
}

func firstOfType(ledger []Event, typ EventType) (Event, bool) {
	for _, e := range ledger {
		if e.Type == typ {
			return e, true
		}
	}
	return Event{}, false
}

// clipReason keeps a tombstone reason within MaxErasureReason bytes.
func clipReason(s string) string {
	if len(s) <= MaxErasureReason {
		return s
	}
	const ellipsis = "…"
	cut := MaxErasureReason - len(ellipsis)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + ellipsis
}

// MinimisedEvidence returns e with its evidence minimised for keeping
// beyond the evidence period: the source IP truncated to its network,
// written as a prefix (IPv4 to /24, "203.0.113.0/24"; IPv6 to /48,
// "2001:db8:1::/48"), and the user agent removed (empty). The prefix
// notation shows a reader that the address was truncated. Every other
// field is unchanged, and minimising again changes nothing.
func MinimisedEvidence(e Event) Event {
	e.SourceIP = TruncateIP(e.SourceIP)
	e.UserAgent = ""
	return e
}

// evidenceToMinimise reports whether MinimisedEvidence would change e.
func evidenceToMinimise(e Event) bool {
	m := MinimisedEvidence(e)
	return m.SourceIP != e.SourceIP || m.UserAgent != e.UserAgent
}

// TruncateIP returns the network of an IP address as a prefix: IPv4 (and
// IPv4-mapped IPv6) to /24, IPv6 to /48, dropping any zone. A prefix
// already that short or shorter stays (in canonical form), a longer one is
// shortened; "" stays "", and anything that is not an address or prefix
// becomes "" (it cannot be truncated, so it is removed).
func TruncateIP(s string) string {
	if s == "" {
		return ""
	}
	bitsFor := func(a netip.Addr) int {
		if a.Is4() {
			return 24
		}
		return 48
	}
	if p, err := netip.ParsePrefix(s); err == nil {
		a := p.Addr().Unmap()
		bits := p.Bits()
		if p.Addr().Is4In6() {
			bits -= 96
		}
		bits = min(max(bits, 0), bitsFor(a))
		q, err := a.Prefix(bits)
		if err != nil {
			return ""
		}
		return q.String()
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return ""
	}
	a = a.WithZone("").Unmap()
	p, err := a.Prefix(bitsFor(a))
	if err != nil {
		return ""
	}
	return p.String()
}
