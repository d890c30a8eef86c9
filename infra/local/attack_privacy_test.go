package main_test

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
)

// The self-service data requests (/privacy) as an abuser sees them: a way
// to learn whom we hold data on, to bomb someone's inbox, or to read or
// erase someone else's data. The scenario joins the attack suite's table.
func init() {
	attackScenarios = append(attackScenarios, attackScenario{"privacy-requests", (*attackRun).privacyRequests})
}

// privacyRequests: the /privacy answer is the same for a known and an
// unknown address; a flood of requests for one address sends at most one
// link per kind per window; tampered and forged links are refused with the
// generic bad-link page; cross-site posts to a real link are refused; the
// real link, posted from our own page, works.
func (a *attackRun) privacyRequests(t *testing.T) {
	const victim, unknown, flood = "victim.privacy@attack.example", "unknown.privacy@attack.example", 40
	a.secret(victim, unknown)
	// The email cap is set high so that only the per-window claim holds the
	// flood back.
	s := a.start(t, "-limits", "on", "-emails-per-address", "100", "-signups-per-source", "0")
	if got := s.must(t, "POST", "/signup", formType, attackForm(victim, "", attackMagnet, true), nil); got.status != http.StatusSeeOther {
		t.Fatalf("victim sign-up: %d", got.status)
	}
	ask := func(email, kind string) attackAnswer {
		return s.must(t, "POST", "/privacy", formType, "email="+url.QueryEscape(email)+"&request="+kind, nil)
	}

	// Known and unknown addresses get the same answer.
	mailsBefore := s.mailsTo(t, victim)
	answers := []attackAnswer{ask(victim, "export"), ask(unknown, "export"), ask(victim, "erase"), ask(unknown, "erase")}
	differ := 0
	for _, got := range answers[1:] {
		if got.status != answers[0].status || got.body != answers[0].body {
			differ++
		}
	}
	linked := s.mailsTo(t, victim) - mailsBefore
	a.row(t, "/privacy answers that differ by address (known vs unknown)",
		fmt.Sprintf("%d (statuses %d/%d/%d/%d; links sent to the known address %d, to the unknown %d)", differ,
			answers[0].status, answers[1].status, answers[2].status, answers[3].status, linked, s.mailsTo(t, unknown)),
		"0 (all 200; 2 links sent, 0 to the unknown)", differ == 0 && answers[0].status == http.StatusOK && linked == 2 && s.mailsTo(t, unknown) == 0)

	// A flood for the victim, both kinds, all at once: the links already
	// sent stay the only ones within the window.
	var wg sync.WaitGroup
	codes := make(chan int, flood)
	for i := range flood {
		wg.Add(1)
		go func() {
			defer wg.Done()
			kind := []string{"export", "erase"}[i%2]
			got, err := s.send("POST", "/privacy", formType, "email="+url.QueryEscape(victim)+"&request="+kind, nil)
			if err != nil {
				t.Errorf("flood request %d: %v", i, err)
				return
			}
			codes <- got.status
		}()
	}
	wg.Wait()
	close(codes)
	ok := 0
	for code := range codes {
		if code == http.StatusOK {
			ok++
		}
	}
	exportLinks, eraseLinks, exportLink, eraseLink := 0, 0, "", ""
	for _, m := range s.mailbox(t) {
		switch {
		case !strings.Contains(strings.Join(m.To, ","), victim):
		case strings.HasPrefix(m.Subject, "Your link to see the data"):
			exportLinks++
			exportLink = linkPath(t, s.server, m.Text, "/privacy/confirm")
		case strings.HasPrefix(m.Subject, "Your link to delete the data"):
			eraseLinks++
			eraseLink = linkPath(t, s.server, m.Text, "/privacy/confirm")
		}
	}
	a.row(t, fmt.Sprintf("data-request links to one address, %d more requests in the window", flood),
		fmt.Sprintf("%d copy + %d erase (%d of %d answered 200)", exportLinks, eraseLinks, ok, flood),
		fmt.Sprintf("1 + 1 (%d of %d)", flood, flood), exportLinks == 1 && eraseLinks == 1 && ok == flood)
	if exportLink == "" || eraseLink == "" {
		t.Fatal("no data-request links to attack")
	}
	_, before := s.events(t, victim)

	// Tampered and forged links.
	var forged []string
	for _, link := range []string{exportLink, eraseLink} {
		tok := attackToken(t, link)
		for _, mask := range []int{1, 2, 3, 4, 32} {
			forged = append(forged, attackFlipLast(tok, mask))
		}
		kid, rest, _ := strings.Cut(tok, ".")
		payload, mac, _ := strings.Cut(rest, ".")
		raw, err := base64.RawURLEncoding.DecodeString(payload)
		if err != nil {
			t.Fatalf("token payload: %v", err)
		}
		swapped := strings.NewReplacer("\nexport/", "\nerase/", "\nerase/", "\nexport/").Replace(string(raw))
		later := strings.Join(append(strings.Split(string(raw), "\n")[:3], "4102444800"), "\n") // expires in 2100
		for _, p := range []string{swapped, later} {
			forged = append(forged, kid+"."+base64.RawURLEncoding.EncodeToString([]byte(p))+"."+mac)
		}
		forged = append(forged, "k9."+payload+"."+mac, kid+"."+payload, tok[:len(tok)/2])
	}
	worked := 0
	for _, tok := range forged {
		path := "/privacy/confirm?t=" + url.QueryEscape(tok)
		for _, method := range []string{"GET", "POST"} {
			got := s.must(t, method, path, formType, "confirm=yes", nil)
			if got.status != http.StatusBadRequest || !strings.Contains(got.body, "This link does not work") || strings.Contains(got.body, victim) {
				worked++
				t.Errorf("%s forged link %q: got %d, want 400 \"This link does not work\"", method, tok, got.status)
			}
		}
	}
	if _, after := s.events(t, victim); after != before {
		worked++
		t.Errorf("forged links changed the victim's ledger")
	}
	a.row(t, "forged or tampered data-request links that work", fmt.Sprintf("%d of %d", worked, 2*len(forged)), "0", worked == 0)

	// Cross-site posts to the real erase link.
	cross := []attackHeaders{
		{"Origin": "https://evil.example"},
		{"Origin": "null"},
		{"Sec-Fetch-Site": "cross-site"},
		{"Referer": "https://evil.example/x"},
	}
	refused := 0
	for _, h := range cross {
		for _, link := range []string{eraseLink, exportLink} {
			got := s.must(t, "POST", link, formType, "confirm=yes", h)
			if got.status == http.StatusForbidden && !strings.Contains(got.body, victim) {
				refused++
			} else {
				t.Errorf("cross-site post %v: got %d, want 403", h, got.status)
			}
		}
	}
	if _, after := s.events(t, victim); after != before {
		refused = 0
		t.Errorf("cross-site posts changed the victim's ledger")
	}
	a.row(t, "cross-site posts to data-request links refused (403, nothing shown or erased)",
		fmt.Sprintf("%d of %d", refused, 2*len(cross)), fmt.Sprintf("%d of %d", 2*len(cross), 2*len(cross)), refused == 2*len(cross))

	// What must keep working: the real link, from our own page.
	own := s.must(t, "POST", eraseLink, formType, "confirm=yes", attackHeaders{"Origin": s.base, "Sec-Fetch-Site": "same-origin"})
	events, _ := s.events(t, victim)
	again := s.must(t, "POST", eraseLink, formType, "confirm=yes", attackHeaders{"Origin": s.base})
	a.row(t, "own-origin erase by the emailed link, then the link again",
		fmt.Sprintf("%d, %d events left; again %d", own.status, len(events), again.status),
		"200, 0 events left; again 200 (nothing held)",
		own.status == http.StatusOK && strings.Contains(own.body, "Your data is deleted") && len(events) == 0 &&
			again.status == http.StatusOK && strings.Contains(again.body, "We hold no data for this link"))
}
