package main_test

import (
	"context"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
)

// chromiumPath finds the browser `make tools` installs (Debian's chromium).
// CHROMIUM overrides it. A missing browser fails the test: it never skips.
func chromiumPath(t *testing.T) string {
	if testing.Short() {
		t.Skip("-short: needs Chromium (`make tools` installs it); `make test` runs this test")
	}
	t.Helper()
	if p := os.Getenv("CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("no Chromium found: run `make tools` (it installs Debian's chromium) or set CHROMIUM")
	return ""
}

// browser starts headless Chromium with JavaScript disabled in every page,
// so each step proves the pages work without it.
func browser(t *testing.T) context.Context {
	t.Helper()
	return newBrowser(t, false)
}

// scriptsOffKey marks a browser context whose pages run without JavaScript
// (audit turns it on only for axe-core, then off again).
type scriptsOffKey struct{}

// newBrowser starts headless Chromium, with page scripts on or off. Its
// context allows 4 minutes for the whole test: each page audit runs
// axe-core twice.
func newBrowser(t *testing.T, scripts bool) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
	)
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(alloc)
	ctx, cancelTimeout := context.WithTimeout(ctx, 4*time.Minute)
	t.Cleanup(func() { cancelTimeout(); cancelCtx(); cancelAlloc() })
	if _, err := chromedp.Call(ctx, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: !scripts}); err != nil {
		t.Fatalf("start Chromium: %v", err)
	}
	return context.WithValue(ctx, scriptsOffKey{}, !scripts)
}

func text(t *testing.T, ctx context.Context) string {
	t.Helper()
	body, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("body")))
	if err != nil {
		t.Fatalf("read page: %v", err)
	}
	return body
}

var linkPattern = regexp.MustCompile(`http://[^\s"<>]+`)

// TestBrowserSignupConfirmUnsubscribe drives the pages in a real browser,
// scripts off, as the README's first five minutes do: the demo form (box
// unticked until the person ticks it), the thank-you page with the confirm
// step, the mailbox, the emailed confirm link and the confirm page's button,
// the receipt, the emailed unsubscribe link and its button, then the
// operator's proof and dashboard. Every page and email on the way is
// audited (audit_test.go); their screenshots are the README's.
func TestBrowserSignupConfirmUnsubscribe(t *testing.T) {
	ctx := browser(t) // first: skips under -short
	s := start(t, t.TempDir())
	a := newAuditor(t, ctx, s.base)

	visit(t, ctx, s.base+"/", `//input[@id="email-uk-gdpr-checklist"]`)
	checked, err := chromedp.Run(ctx, chromedp.AttributeValue(chromedp.CSS(`#consent-uk-gdpr-checklist`), "checked"))
	if err != nil {
		t.Fatalf("read the checkbox: %v", err)
	}
	if checked.Exists {
		t.Fatal("the marketing checkbox is ticked before the visitor touches it")
	}
	a.check(t, "landing")
	err = chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.CSS(`#email-uk-gdpr-checklist`), "browser@example.com"),
		chromedp.SendKeys(chromedp.CSS(`#name-uk-gdpr-checklist`), "Bea"),
		chromedp.Click(chromedp.CSS(`#consent-uk-gdpr-checklist`)),
		chromedp.Click(chromedp.CSS(`section button[type=submit]`)),
		chromedp.WaitVisible(chromedp.Search(`//h1[contains(., "Check your inbox")]`)),
	)
	if err != nil {
		t.Fatalf("submit the form: %v", err)
	}
	location, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(location, "/thanks?magnet=uk-gdpr-checklist") || !strings.Contains(text(t, ctx), "One more step: confirm your subscription") {
		t.Fatalf("after submitting: at %s, want the thank-you page with the confirm step:\n%s", location, text(t, ctx))
	}
	a.check(t, "thanks-confirm")

	box := s.mailbox(t)
	if len(box) != 1 || !strings.HasPrefix(box[0].Subject, "Your download:") {
		t.Fatalf("mailbox: %d messages, want the freebie", len(box))
	}
	freebie := box[0]
	var confirm, unsubscribe string
	for _, l := range linkPattern.FindAllString(freebie.Text, -1) {
		switch {
		case strings.Contains(l, "/confirm?t="):
			confirm = l
		case strings.Contains(l, "/unsubscribe?t="):
			unsubscribe = l
		}
	}
	if confirm == "" || unsubscribe == "" {
		t.Fatalf("freebie lacks confirm or unsubscribe links:\n%s", freebie.Text)
	}

	// The mailbox as a person opens it: the list, the message, its HTML part.
	visit(t, ctx, s.base+"/_local/mailbox", `//a[starts-with(., "Your download:")]`)
	a.check(t, "mailbox")
	clickTo(t, ctx, `//a[starts-with(., "Your download:")]`, `//h2[@id="html"]`)
	a.check(t, "mailbox-message")
	a.email(t, freebie, "email-freebie", `//a[contains(., "confirm here")]`)
	visit(t, ctx, s.base+"/_local/mailbox/"+freebie.ID, `//h2[@id="html"]`)
	clickTo(t, ctx, `//a[contains(., "Open the HTML part")]`, `//a[contains(., "confirm here")]`)

	// The emailed link opens the confirm page, which changes nothing; its
	// button confirms.
	clickTo(t, ctx, `//a[contains(., "confirm here")]`, `//h1[contains(., "Confirm you want")]`)
	if location, _ := chromedp.Run(ctx, chromedp.Location()); location != confirm {
		t.Errorf("the email's confirm button leads to %s, its text part to %s", location, confirm)
	}
	if got := types(s.ledger(t, "browser@example.com")); got != "signup,granted" {
		t.Fatalf("opening the confirm link wrote: %s", got)
	}
	a.check(t, "confirm")
	if err := pressAndWait(ctx, "you are subscribed"); err != nil {
		t.Fatalf("press confirm: %v", err)
	}
	a.check(t, "confirmed")
	receipt := findMail(t, s.mailbox(t), "Your consent receipt")
	a.email(t, receipt, "email-receipt", `//a[contains(., "Unsubscribe in one click")]`)

	// The freebie's emailed unsubscribe link: the page shows the masked
	// address and withdraws on the button.
	visit(t, ctx, s.base+"/_local/mailbox/"+freebie.ID+"/html", `//a[.="Unsubscribe"]`)
	clickTo(t, ctx, `//a[.="Unsubscribe"]`, `//h1[contains(., "Unsubscribe from")]`)
	if location, _ := chromedp.Run(ctx, chromedp.Location()); location != unsubscribe {
		t.Errorf("the email's unsubscribe link leads to %s, its text part to %s", location, unsubscribe)
	}
	if page := text(t, ctx); !strings.Contains(page, "b•••@e•••.com") || strings.Contains(page, "browser@example.com") {
		t.Errorf("unsubscribe page should show only the masked address")
	}
	a.check(t, "unsubscribe")
	if err := pressAndWait(ctx, "You are unsubscribed"); err != nil {
		t.Fatalf("press unsubscribe: %v", err)
	}
	a.check(t, "unsubscribed")
	if got := types(s.ledger(t, "browser@example.com")); got != "signup,granted,confirmed,withdrawn" {
		t.Errorf("ledger: %s", got)
	}

	// The operator's side: the proof, every field, the dashboard.
	visit(t, ctx, s.base+"/_local/ledger?email=browser%40example.com", `//h1[.="Proof of consent"]`)
	if page := text(t, ctx); !strings.Contains(page, "browser@example.com") || !strings.Contains(page, "Yes, Example Ltd may email me") {
		t.Errorf("proof page lacks the address or the wording:\n%s", page)
	}
	a.check(t, "proof")
	clickTo(t, ctx, `//a[contains(., "Developer view")]`, `//h2[contains(., "Events")]`)
	a.check(t, "ledger-developer")
	visit(t, ctx, s.base+"/_local/dashboard", `//h1[.="Consent dashboard"]`)
	a.check(t, "dashboard")
}

// visit opens url and waits until the XPath want is visible.
func visit(t *testing.T, ctx context.Context, url, want string) {
	t.Helper()
	if err := chromedp.Do(ctx, chromedp.Navigate(url), chromedp.WaitVisible(chromedp.Search(want))); err != nil {
		t.Fatalf("open %s, wait for %s: %v", url, want, err)
	}
}

// clickTo clicks the element at the XPath link and waits until the XPath
// want is visible.
func clickTo(t *testing.T, ctx context.Context, link, want string) {
	t.Helper()
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.Search(link)), chromedp.WaitVisible(chromedp.Search(want))); err != nil {
		location, _ := chromedp.Run(ctx, chromedp.Location())
		t.Fatalf("at %s, click %s, wait for %s: %v", location, link, want, err)
	}
}

// findMail returns the newest message whose subject starts with subject.
func findMail(t *testing.T, box []mail, subject string) mail {
	t.Helper()
	for i := len(box) - 1; i >= 0; i-- {
		if strings.HasPrefix(box[i].Subject, subject) {
			return box[i]
		}
	}
	t.Fatalf("no message %q among %d", subject, len(box))
	return mail{}
}

// pressAndWait presses the page's form button and waits for the next page,
// whose heading contains want.
func pressAndWait(ctx context.Context, want string) error {
	return chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(`form button[type=submit]`)),
		chromedp.WaitVisible(chromedp.Search(`//h1[contains(., "`+want+`")]`)),
	)
}
