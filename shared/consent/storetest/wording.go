package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/unbundled/unbundled/shared/consent"
	"github.com/unbundled/unbundled/shared/magnet"
)

// wording returns the version a magnet with this text would archive; every
// field holds characters a careless encoding would mangle.
func wording(text string) consent.WordingVersion {
	return consent.NewWordingVersion(magnet.Magnet{
		ID:               "guide",
		ConsentWording:   text,
		PrivacyPolicyURL: "https://example.com/privacy?v=3&lang=en#data",
		Frequency:        "monthly",
		Controller:       "Zoë's \"Example\" Ltd, 1 High St, London \u2603",
	})
}

var (
	newsletter = wording("Yes, email me the monthly newsletter. Unsubscribe any time.")
	offers     = wording("Yes, send me offers.")
)

func mustArchive(t *testing.T, s consent.Store, magnetID string, v consent.WordingVersion, at time.Time) {
	t.Helper()
	if err := s.ArchiveWording(context.Background(), magnetID, v, at); err != nil {
		t.Fatalf("ArchiveWording(%q, %s, %s): %v", magnetID, v.ID, at.Format(time.RFC3339Nano), err)
	}
}

// checkWording fails the test unless Wording(magnetID, want.ID) returns want
// exactly, with ArchivedAt in UTC.
func checkWording(t *testing.T, s consent.Store, magnetID string, want consent.WordingVersion) {
	t.Helper()
	got, err := s.Wording(context.Background(), magnetID, want.ID)
	if err != nil {
		t.Errorf("Wording(%q, %s): got error %v, want the version", magnetID, want.ID, err)
		return
	}
	if got.ArchivedAt.Location() != time.UTC {
		t.Errorf("Wording(%q, %s): got ArchivedAt in location %q, want UTC", magnetID, want.ID, got.ArchivedAt.Location())
	}
	if !got.ArchivedAt.Equal(want.ArchivedAt) {
		t.Errorf("Wording(%q, %s): got ArchivedAt %s, want %s", magnetID, want.ID,
			got.ArchivedAt.Format(time.RFC3339Nano), want.ArchivedAt.Format(time.RFC3339Nano))
	}
	got.ArchivedAt, want.ArchivedAt = time.Time{}, time.Time{}
	if got != want {
		t.Errorf("Wording(%q, %s):\n got %+v\nwant %+v", magnetID, want.ID, got, want)
	}
}

// checkNoWording fails the test unless Wording(magnetID, id) fails with an
// error wrapping consent.ErrNotFound.
func checkNoWording(t *testing.T, s consent.Store, magnetID, id string) {
	t.Helper()
	got, err := s.Wording(context.Background(), magnetID, id)
	if !errors.Is(err, consent.ErrNotFound) {
		t.Errorf("Wording(%q, %q): got %+v, %v, want an error wrapping consent.ErrNotFound", magnetID, id, got, err)
	}
}

// archived is v as Wording must return it after a first archive at at.
func archived(v consent.WordingVersion, at time.Time) consent.WordingVersion {
	v.ArchivedAt = at.UTC()
	return v
}

func testWordingRoundTrip(t *testing.T, s consent.Store) {
	stale := wording("A version whose ArchivedAt the caller left set.")
	stale.ArchivedAt = t0.Add(-24 * time.Hour)
	sparse := consent.NewWordingVersion(magnet.Magnet{ConsentWording: "Only wording, nothing else."})
	tests := []struct {
		name   string
		magnet string
		v      consent.WordingVersion
		at     time.Time
	}{
		{"UTC time", "guide", newsletter, t0},
		{"time in another zone comes back in UTC", "guide", offers, t0.Add(time.Hour).In(time.FixedZone("IST", 19800))},
		{"ArchivedAt of the argument is ignored", "guide", stale, t0.Add(2 * time.Hour)},
		{"empty fields", "other", sparse, t0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			mustArchive(t, s, tc.magnet, tc.v, tc.at)
			checkWording(t, s, tc.magnet, archived(tc.v, tc.at))
		})
	}
}

func testWordingArchivedTwice(t *testing.T, s consent.Store) {
	mustArchive(t, s, "guide", newsletter, t0)
	for _, later := range []time.Duration{time.Nanosecond, time.Hour, 400 * 24 * time.Hour} {
		if err := s.ArchiveWording(context.Background(), "guide", newsletter, t0.Add(later)); err != nil {
			t.Errorf("archiving the same version again %s later: got error %v, want nil", later, err)
		}
	}
	// An earlier time does not rewrite history either.
	if err := s.ArchiveWording(context.Background(), "guide", newsletter, t0.Add(-time.Hour)); err != nil {
		t.Errorf("archiving the same version again with an earlier time: got error %v, want nil", err)
	}
	checkWording(t, s, "guide", archived(newsletter, t0))
}

func testWordingLinkedPerMagnet(t *testing.T, s consent.Store) {
	// Magnet ids that share a prefix catch key schemes confusing "guide"
	// with "guide-2".
	mustArchive(t, s, "guide", newsletter, t0)
	checkNoWording(t, s, "guide-2", newsletter.ID)
	mustArchive(t, s, "guide-2", newsletter, t0.Add(time.Hour))
	mustArchive(t, s, "guide-2", offers, t0.Add(2*time.Hour))

	want := archived(newsletter, t0) // the first archive's time, for every magnet
	checkWording(t, s, "guide", want)
	checkWording(t, s, "guide-2", want)
	checkWording(t, s, "guide-2", archived(offers, t0.Add(2*time.Hour)))
	for _, tc := range []struct{ magnet, id string }{
		{"third", newsletter.ID},
		{"guide", offers.ID},
		{"guide-", newsletter.ID},
		{"", newsletter.ID},
	} {
		checkNoWording(t, s, tc.magnet, tc.id)
	}
}

func testWordingUnknown(t *testing.T, s consent.Store) {
	mustArchive(t, s, "guide", newsletter, t0)
	for _, id := range []string{
		offers.ID,
		newsletter.ID[:len(newsletter.ID)-1], // a prefix of a stored id
		newsletter.ID + "0",
		"",
	} {
		checkNoWording(t, s, "guide", id)
	}
	checkNoWording(t, s, "nobody", "nothing")
}

func testWordingConflict(t *testing.T, s consent.Store) {
	tests := []struct {
		name   string
		change func(v *consent.WordingVersion)
	}{
		{"other wording", func(v *consent.WordingVersion) { v.Wording += " Or not." }},
		{"other privacy policy", func(v *consent.WordingVersion) { v.PrivacyPolicyURL = "https://example.com/privacy?v=4" }},
		{"other frequency", func(v *consent.WordingVersion) { v.Frequency = "weekly" }},
		{"other controller", func(v *consent.WordingVersion) { v.Controller = "Someone Else Ltd" }},
		{"controller emptied", func(v *consent.WordingVersion) { v.Controller = "" }},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			original := wording(fmt.Sprintf("Conflict case %d: yes, email me.", i))
			mustArchive(t, s, "guide", original, t0)
			forged := original
			tc.change(&forged)
			for _, magnetID := range []string{"guide", "newcomer"} {
				err := s.ArchiveWording(context.Background(), magnetID, forged, t0.Add(time.Hour))
				if !errors.Is(err, consent.ErrConflict) {
					t.Errorf("ArchiveWording(%q) of id %s with different content: got error %v, want one wrapping consent.ErrConflict", magnetID, forged.ID, err)
				}
			}
			checkWording(t, s, "guide", archived(original, t0))
			// The refused call must not have linked the version to its magnet.
			checkNoWording(t, s, "newcomer", original.ID)
		})
	}
}

func testWordingInvalidArchive(t *testing.T, s consent.Store) {
	noID := newsletter
	noID.ID = ""
	tests := []struct {
		name   string
		magnet string
		v      consent.WordingVersion
		at     time.Time
	}{
		{"no magnet", "", newsletter, t0},
		{"no version id", "guide", noID, t0},
		{"year after 9999", "guide", newsletter, time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)},
		{"year before 0", "guide", newsletter, time.Date(-1, 12, 31, 0, 0, 0, 0, time.UTC)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := s.ArchiveWording(context.Background(), tc.magnet, tc.v, tc.at)
			if err == nil {
				t.Fatalf("ArchiveWording(%q, %q, %s): got nil error, want one", tc.magnet, tc.v.ID, tc.at)
			}
			if errors.Is(err, consent.ErrConflict) {
				t.Errorf("ArchiveWording(%q, %q, %s): got %v, want an error that is not ErrConflict (retrying cannot help)", tc.magnet, tc.v.ID, tc.at, err)
			}
			checkNoWording(t, s, tc.magnet, tc.v.ID)
		})
	}
	checkNoWording(t, s, "guide", newsletter.ID)
}

func testConcurrentArchiveWording(t *testing.T, s consent.Store) {
	const writers = 8
	magnets := []string{"guide", "guide-2", "guide-3"} // writer w links magnets[w%3]
	errs := make([]error, writers)
	ats := make([]time.Time, writers)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for w := range writers {
		ats[w] = t0.Add(time.Duration(w) * time.Second)
		wg.Go(func() {
			<-start
			errs[w] = s.ArchiveWording(context.Background(), magnets[w%len(magnets)], newsletter, ats[w])
		})
	}
	close(start)
	wg.Wait()
	for w, err := range errs {
		if err != nil {
			t.Errorf("writer %d: got error %v, want nil", w, err)
		}
	}
	// Exactly one writer's time won, and every magnet sees that one.
	var first time.Time
	for _, magnetID := range magnets {
		got, err := s.Wording(context.Background(), magnetID, newsletter.ID)
		if err != nil {
			t.Errorf("Wording(%q) after concurrent archives: got error %v, want the version", magnetID, err)
			continue
		}
		if !slices.ContainsFunc(ats, got.ArchivedAt.Equal) {
			t.Errorf("Wording(%q): got ArchivedAt %s, want one of the writers' times", magnetID, got.ArchivedAt.Format(time.RFC3339Nano))
		}
		if first.IsZero() {
			first = got.ArchivedAt
		}
		checkWording(t, s, magnetID, archived(newsletter, first))
	}
	checkNoWording(t, s, "guide-4", newsletter.ID)
}
