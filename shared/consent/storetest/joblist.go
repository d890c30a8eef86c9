package storetest

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/unbundled/unbundled/shared/consent"
)

// jobFor returns job(id, created) belonging to subscriber, in state.
func jobFor(id, subscriber string, state consent.JobState, created time.Time) consent.Job {
	j := job(id, created)
	j.Subscriber, j.State = subscriber, state
	switch state {
	case consent.JobFailed:
		j.Reason = "mail provider rejected the message: MessageRejected: Email address is not verified"
	case consent.JobSent:
		j.MessageID = "msg-" + id
	}
	return j
}

// listJobs returns what ListJobs(f) calls fn with, sorted by id (the order
// is unspecified).
func listJobs(t *testing.T, s consent.Store, f consent.JobFilter) []consent.Job {
	t.Helper()
	var got []consent.Job
	if err := s.ListJobs(context.Background(), f, func(j consent.Job) error {
		got = append(got, j)
		return nil
	}); err != nil {
		t.Fatalf("ListJobs(%+v): %v", f, err)
	}
	slices.SortFunc(got, func(a, b consent.Job) int { return strings.Compare(a.ID, b.ID) })
	return got
}

// checkListed fails the test unless ListJobs(f) lists exactly want, each
// as stored.
func checkListed(t *testing.T, s consent.Store, f consent.JobFilter, want ...consent.Job) {
	t.Helper()
	got := listJobs(t, s, f)
	ids := func(jobs []consent.Job) []string {
		out := make([]string, len(jobs))
		for i, j := range jobs {
			out[i] = j.ID
		}
		return out
	}
	want = slices.Clone(want)
	slices.SortFunc(want, func(a, b consent.Job) int { return strings.Compare(a.ID, b.ID) })
	if !slices.Equal(ids(got), ids(want)) {
		t.Errorf("ListJobs(%+v): got %v, want %v", f, ids(got), ids(want))
		return
	}
	for i := range got {
		if diff := sameJob(got[i], stored(want[i])); diff != "" {
			t.Errorf("ListJobs(%+v): %s", f, diff)
		}
	}
}

func testListJobs(t *testing.T, s consent.Store) {
	ist := time.FixedZone("IST", 19800)
	aPending := jobFor("a-pending", subA, consent.JobPending, t0)
	aFailed := jobFor("a-failed", subA, consent.JobFailed, t0.Add(time.Minute).In(ist))
	aSent := jobFor("a-sent", subA, consent.JobSent, t0.Add(2*time.Minute))
	bFailed := jobFor("b-failed", subB, consent.JobFailed, t0.Add(3*time.Minute))
	bSkipped := jobFor("b-skipped", subB, consent.JobSkipped, t0.Add(4*time.Minute))
	// sub1 is a prefix of sub10: a filter must match whole ids.
	oneFailed := jobFor("one-failed", sub1, consent.JobFailed, t0)
	tenSending := jobFor("ten-sending", sub10, consent.JobSending, t0)
	tenSending.LeaseUntil = t0.Add(2 * time.Minute)
	mustCommit(t, s, consent.Write{Now: now0, Jobs: []consent.Job{aPending, aFailed, bFailed}})
	mustCommit(t, s, consent.Write{Now: now0, Jobs: []consent.Job{aSent, bSkipped, oneFailed, tenSending}})
	// Events and claims are not jobs, whatever they name.
	mustAppend(t, s, event(subA, 1, consent.EventSignup, t0, "guide"))
	mustCommit(t, s, consent.Write{Now: now0, Claims: []consent.ClaimRecord{{Key: "pending-confirmation#" + subA + "#guide", ExpiresAt: now0.Add(time.Hour)}}})

	tests := []struct {
		name string
		f    consent.JobFilter
		want []consent.Job
	}{
		{"every job", consent.JobFilter{}, []consent.Job{aPending, aFailed, aSent, bFailed, bSkipped, oneFailed, tenSending}},
		{"one subscriber's", consent.JobFilter{Subscriber: subA}, []consent.Job{aPending, aFailed, aSent}},
		{"a prefix of another subscriber's id", consent.JobFilter{Subscriber: sub1}, []consent.Job{oneFailed}},
		{"failed", consent.JobFilter{State: consent.JobFailed}, []consent.Job{aFailed, bFailed, oneFailed}},
		{"one subscriber's failed", consent.JobFilter{Subscriber: subB, State: consent.JobFailed}, []consent.Job{bFailed}},
		{"sending", consent.JobFilter{State: consent.JobSending}, []consent.Job{tenSending}},
		{"a subscriber without jobs", consent.JobFilter{Subscriber: subC}, nil},
		{"a state no job is in", consent.JobFilter{Subscriber: subB, State: consent.JobSent}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			checkListed(t, s, tc.f, tc.want...)
		})
	}
}

func testListJobsEmpty(t *testing.T, s consent.Store) {
	checkListed(t, s, consent.JobFilter{})
	checkListed(t, s, consent.JobFilter{State: consent.JobFailed})
}

func testListJobsStopsAtError(t *testing.T, s consent.Store) {
	for _, id := range []string{"f1", "f2", "f3"} {
		mustCommit(t, s, consent.Write{Now: now0, Jobs: []consent.Job{jobFor(id, subA, consent.JobFailed, t0)}})
	}
	stop := errors.New("stop")
	calls := 0
	err := s.ListJobs(context.Background(), consent.JobFilter{State: consent.JobFailed}, func(consent.Job) error {
		calls++
		return stop
	})
	if !errors.Is(err, stop) || calls != 1 {
		t.Errorf("ListJobs with fn failing: got error %v after %d calls, want fn's error after 1", err, calls)
	}
}

// testRetriedJobIsDueAgain moves a failed job back to pending from inside
// fn, as the operator's retry does: the job leaves the failed list and is
// due again (on DynamoDB: listed in the due-jobs index again).
func testRetriedJobIsDueAgain(t *testing.T, s consent.Store) {
	ctx := context.Background()
	failed := jobFor("retry-me", subA, consent.JobFailed, t0)
	failed.Attempts = 3
	other := jobFor("stays-failed", subB, consent.JobFailed, t0.Add(time.Minute))
	mustCommit(t, s, consent.Write{Now: now0, Jobs: []consent.Job{failed, other}})
	if due, err := s.DueJobs(ctx, now0, 10); err != nil || len(due) != 0 {
		t.Fatalf("DueJobs before the retry: got %d jobs, %v; want none", len(due), err)
	}
	retriedAt := now0.Add(time.Hour)
	var retried consent.Job
	err := s.ListJobs(ctx, consent.JobFilter{Subscriber: subA, State: consent.JobFailed}, func(j consent.Job) error {
		var err error
		retried, err = s.UpdateJob(ctx, consent.JobUpdate{ID: j.ID, From: consent.JobFailed, To: consent.JobPending, UpdatedAt: retriedAt, ExpiresAt: j.ExpiresAt})
		return err
	})
	if err != nil {
		t.Fatalf("retry from ListJobs: %v", err)
	}
	want := failed
	want.State, want.Attempts, want.Reason, want.UpdatedAt = consent.JobPending, 0, "", retriedAt
	if diff := sameJob(retried, stored(want)); diff != "" {
		t.Errorf("UpdateJob failed → pending: %s", diff)
	}
	checkListed(t, s, consent.JobFilter{State: consent.JobFailed}, other)
	checkListed(t, s, consent.JobFilter{State: consent.JobPending}, want)
	due, err := s.DueJobs(ctx, retriedAt, 10)
	if err != nil {
		t.Fatalf("DueJobs after the retry: %v", err)
	}
	if len(due) != 1 || due[0].ID != failed.ID {
		t.Fatalf("DueJobs after the retry: got %d jobs %v, want only %s", len(due), due, failed.ID)
	}
	if diff := sameJob(due[0], stored(want)); diff != "" {
		t.Errorf("DueJobs after the retry: %s", diff)
	}
}
