package consent_test

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/unbundled/unbundled/shared/consent"
	"github.com/unbundled/unbundled/shared/magnet"
)

// The emails as people read them: greeted by the name they gave, times
// they can read, no "the The …", and marketing spoken of as agreed only
// once it is.

// isoStamp matches a raw RFC 3339 time, which no email shows people.
var isoStamp = regexp.MustCompile(`\d{4}-\d{2}-\d{2}T\d{2}:\d{2}`)

// lastWith is the last email sent whose subject starts with prefix.
func (f *fixture) lastWith(t *testing.T, prefix string) consent.Message {
	t.Helper()
	sent := f.mailer.Sent()
	for i := len(sent) - 1; i >= 0; i-- {
		if strings.HasPrefix(sent[i].Subject, prefix) {
			return sent[i]
		}
	}
	t.Fatalf("no email with a subject starting %q among %d", prefix, len(sent))
	return consent.Message{}
}

// readAloud checks what every email must never say, in both parts.
func readAloud(t *testing.T, what string, msg consent.Message) {
	t.Helper()
	for part, text := range map[string]string{"text": msg.Text, "HTML": msg.HTML} {
		if strings.Contains(strings.ToLower(text), "the the ") {
			t.Errorf("%s (%s part) says \"the The\":\n%s", what, part, text)
		}
		if isoStamp.MatchString(text) {
			t.Errorf("%s (%s part) shows a raw ISO time:\n%s", what, part, text)
		}
	}
}

func TestFreebieBeforeConfirmationNeverSaysAgreed(t *testing.T) {
	f := newFixture(t)
	f.signup(t, "ann@example.com", true)
	freebie := f.lastWith(t, "Your download")
	readAloud(t, "freebie", freebie)
	for part, text := range map[string]string{"text": freebie.Text, "HTML": freebie.HTML} {
		if strings.Contains(strings.ToLower(text), "agreed") {
			t.Errorf("freebie awaiting confirmation (%s part) speaks of consent as agreed:\n%s", part, text)
		}
	}
	if !strings.Contains(freebie.Text, "If you'd like our monthly emails, confirm here:\nhttps://signup.example.com/confirm?t=") {
		t.Errorf("freebie text does not offer the emails as something to confirm:\n%s", freebie.Text)
	}
	if !strings.Contains(freebie.Text, "Don't want our monthly emails after all? Unsubscribe here:\nhttps://signup.example.com/unsubscribe?t=") {
		t.Errorf("freebie text lacks the unsubscribe link, worded for consent not yet confirmed:\n%s", freebie.Text)
	}

	// Once confirmed, the next freebie may say so.
	f.confirmLast(t)
	f.now = t0.Add(time.Hour)
	f.signup(t, "ann@example.com", false)
	again := f.lastWith(t, "Your download")
	if !strings.Contains(again.Text, "You agreed to receive monthly emails from us. To stop them, unsubscribe here:") {
		t.Errorf("freebie after confirmation:\n%s", again.Text)
	}
	if strings.Contains(again.Text, "/confirm?t=") {
		t.Errorf("freebie after confirmation still asks to confirm:\n%s", again.Text)
	}
}

func TestFreebieWithExtraBoxesBeforeConfirmationNeverSaysAgreed(t *testing.T) {
	f := newFixture(t)
	withPartner(t, f)
	f.signupTicking(t, "ann@example.com", false, "books-r-us")
	freebie := f.lastWith(t, "Your download")
	readAloud(t, "freebie", freebie)
	if strings.Contains(strings.ToLower(freebie.Text+freebie.HTML), "agreed") {
		t.Errorf("freebie awaiting confirmation speaks of consent as agreed:\n%s\n%s", freebie.Text, freebie.HTML)
	}
	if !strings.Contains(freebie.Text, "If you'd like the emails you chose on the form, confirm them here:") {
		t.Errorf("freebie text:\n%s", freebie.Text)
	}
}

func TestFreebieWithoutDoubleOptInSaysAgreed(t *testing.T) {
	f := newFixture(t)
	f.setMagnet(t, func(m *magnet.Magnet) { no := false; m.DoubleOptIn = &no })
	f.signup(t, "ann@example.com", true)
	freebie := f.lastWith(t, "Your download")
	readAloud(t, "freebie", freebie)
	if !strings.Contains(freebie.Text, "You agreed to receive monthly emails from us.") || strings.Contains(freebie.Text, "confirm") {
		t.Errorf("single opt-in freebie:\n%s", freebie.Text)
	}
	if got := strings.Count(strings.ToLower(freebie.HTML), "at any time"); got != 1 {
		t.Errorf("single opt-in freebie HTML says \"at any time\" %d times, want once:\n%s", got, freebie.HTML)
	}
}

func TestReceiptGreetsByNameWithReadableTimes(t *testing.T) {
	f := newFixture(t)
	f.signup(t, "ann@example.com", true) // Name: "Ann"
	f.now = t0.Add(2*time.Hour + 5*time.Minute)
	f.confirmLast(t)
	r := f.lastWith(t, "Your consent receipt")
	readAloud(t, "receipt", r)
	for _, want := range []string{
		"Hello Ann,\n",
		"Agreed on: 28 November 2026, 10:00 UTC, when you ticked the box on the form for \"The UK GDPR Lead-Magnet Checklist\"",
		"Confirmed on: 28 November 2026, 12:05 UTC",
		"Changed your mind? Unsubscribe in one click:\nhttps://signup.example.com/unsubscribe?t=",
	} {
		if !strings.Contains(r.Text, want) {
			t.Errorf("receipt text lacks %q:\n%s", want, r.Text)
		}
	}
	if !strings.Contains(r.HTML, "<p>Hello Ann,</p>") || !strings.Contains(r.HTML, "28 November 2026, 12:05 UTC") {
		t.Errorf("receipt HTML does not greet Ann or show readable times:\n%s", r.HTML)
	}
	// The quoted wording says "unsubscribe at any time"; the receipt's own
	// words do not say it again.
	m, _ := f.svc.Catalog.Get("uk-gdpr-checklist")
	if got, want := strings.Count(r.Text, "at any time"), strings.Count(m.ConsentWording, "at any time"); got != want {
		t.Errorf("receipt text says \"at any time\" %d times, want %d (only in the quoted wording):\n%s", got, want, r.Text)
	}
}

func TestReceiptWithoutNameSaysHello(t *testing.T) {
	f := newFixture(t)
	req := signupReq("bob@example.com", true)
	req.Name = ""
	if err := f.svc.Signup(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	f.confirmLast(t)
	if r := f.lastWith(t, "Your consent receipt"); !strings.HasPrefix(r.Text, "Hello,\n") {
		t.Errorf("receipt for a sign-up without a name:\n%s", r.Text)
	}
}

func TestResentConfirmLinkGreetsByName(t *testing.T) {
	f := newFixture(t)
	f.signup(t, "ann@example.com", true)
	tok := linkToken(t, f.lastWith(t, "Your download").Text, "/confirm")
	f.now = t0.Add(8 * 24 * time.Hour) // the link has expired
	if err := f.svc.ResendConfirmation(context.Background(), tok); err != nil {
		t.Fatal(err)
	}
	c := f.lastWith(t, "Please confirm")
	readAloud(t, "confirm link", c)
	if !strings.HasPrefix(c.Text, "Hello Ann,\n") || !strings.Contains(c.HTML, "<p>Hello Ann,</p>") {
		t.Errorf("resent confirm link does not greet Ann:\n%s\n%s", c.Text, c.HTML)
	}
}

func TestWithdrawalLinkEmailReadsAloud(t *testing.T) {
	f := newFixture(t)
	f.signup(t, "ann@example.com", true)
	if err := f.svc.RequestWithdrawalLinks(context.Background(), "ann@example.com", ev); err != nil {
		t.Fatal(err)
	}
	readAloud(t, "withdrawal link", f.lastWith(t, "Your unsubscribe link"))
}

func TestDescribeUnsubscribeKnowsAUsedLink(t *testing.T) {
	f := newFixture(t)
	f.signup(t, "ann@example.com", true)
	tok := unsubscribeToken(t, f.lastWith(t, "Your download"))
	ctx := context.Background()
	before, err := f.svc.DescribeUnsubscribe(ctx, tok)
	if err != nil || before.AlreadyUnsubscribed {
		t.Fatalf("before unsubscribing: %+v, %v", before, err)
	}
	if _, err := f.svc.Withdraw(ctx, tok, consent.MethodOneClick, ev); err != nil {
		t.Fatal(err)
	}
	writes := f.store.Writes()
	after, err := f.svc.DescribeUnsubscribe(ctx, tok)
	if err != nil || !after.AlreadyUnsubscribed || after.OtherMarketing {
		t.Errorf("after unsubscribing: %+v, %v; want already unsubscribed, nothing else standing", after, err)
	}
	if f.store.Writes() != writes {
		t.Errorf("DescribeUnsubscribe wrote to the store")
	}
}

func TestDescribeUnsubscribeSeesOtherMarketingStillStanding(t *testing.T) {
	f := newFixture(t)
	withPartner(t, f)
	f.signupTicking(t, "ann@example.com", true, "books-r-us")
	tok := unsubscribeToken(t, f.lastWith(t, "Your download"))
	ctx := context.Background()
	// One-click withdraws the main purpose only; the partner box stands.
	if _, err := f.svc.Withdraw(ctx, tok, consent.MethodOneClick, ev); err != nil {
		t.Fatal(err)
	}
	got, err := f.svc.DescribeUnsubscribe(ctx, tok)
	if err != nil || !got.AlreadyUnsubscribed || !got.OtherMarketing {
		t.Errorf("got %+v, %v; want already unsubscribed with other marketing standing", got, err)
	}
}

func TestReadableTime(t *testing.T) {
	at := time.Date(2026, 12, 2, 15, 5, 9, 0, time.FixedZone("CET", 3600))
	if got, want := consent.ReadableTime(at), "2 December 2026, 14:05 UTC"; got != want {
		t.Errorf("ReadableTime: got %q, want %q", got, want)
	}
}
