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
	ctx, cancelTimeout := context.WithTimeout(ctx, 90*time.Second)
	t.Cleanup(func() { cancelTimeout(); cancelCtx(); cancelAlloc() })
	if _, err := chromedp.Call(ctx, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true}); err != nil {
		t.Fatalf("start Chromium: %v", err)
	}
	return ctx
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
// scripts off: the demo form (box unticked until the person ticks it), the
// thank-you page, the confirm link's button and the unsubscribe button.
func TestBrowserSignupConfirmUnsubscribe(t *testing.T) {
	s := start(t, t.TempDir())
	ctx := browser(t)

	err := chromedp.Do(ctx, chromedp.Navigate(s.base+"/"), chromedp.WaitVisible(chromedp.CSS(`#email-uk-gdpr-checklist`)))
	if err != nil {
		t.Fatalf("landing page: %v", err)
	}
	checked, err := chromedp.Run(ctx, chromedp.AttributeValue(chromedp.CSS(`#consent-uk-gdpr-checklist`), "checked"))
	if err != nil {
		t.Fatalf("read the checkbox: %v", err)
	}
	if checked.Exists {
		t.Fatal("the marketing checkbox is ticked before the visitor touches it")
	}
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
	if !strings.Contains(location, "/thanks?magnet=uk-gdpr-checklist") || !strings.Contains(text(t, ctx), "Check your inbox") {
		t.Fatalf("after submitting: at %s, want the thank-you page", location)
	}

	box := s.mailbox(t)
	if len(box) != 1 {
		t.Fatalf("mailbox: %d messages, want 1", len(box))
	}
	var confirm, unsubscribe string
	for _, l := range linkPattern.FindAllString(box[0].Text, -1) {
		switch {
		case strings.Contains(l, "/confirm?t="):
			confirm = l
		case strings.Contains(l, "/unsubscribe?t="):
			unsubscribe = l
		}
	}
	if confirm == "" || unsubscribe == "" {
		t.Fatalf("freebie lacks confirm or unsubscribe links:\n%s", box[0].Text)
	}

	// Opening the link changes nothing; the button confirms.
	if err := chromedp.Do(ctx, chromedp.Navigate(confirm), chromedp.WaitVisible(chromedp.CSS(`button`))); err != nil {
		t.Fatalf("confirm page: %v", err)
	}
	if got := types(s.ledger(t, "browser@example.com")); got != "signup,granted" {
		t.Fatalf("opening the confirm link wrote: %s", got)
	}
	if err := pressAndWait(ctx, "you are subscribed"); err != nil {
		t.Fatalf("press confirm: %v", err)
	}
	if !strings.Contains(text(t, ctx), "you are subscribed") {
		t.Errorf("after confirming: %q", text(t, ctx))
	}

	// The unsubscribe page shows the masked address and withdraws on the button.
	if err := chromedp.Do(ctx, chromedp.Navigate(unsubscribe), chromedp.WaitVisible(chromedp.CSS(`button`))); err != nil {
		t.Fatalf("unsubscribe page: %v", err)
	}
	if page := text(t, ctx); !strings.Contains(page, "b•••@e•••.com") || strings.Contains(page, "browser@example.com") {
		t.Errorf("unsubscribe page should show only the masked address")
	}
	if err := pressAndWait(ctx, "You are unsubscribed"); err != nil {
		t.Fatalf("press unsubscribe: %v", err)
	}
	if !strings.Contains(text(t, ctx), "You are unsubscribed") {
		t.Errorf("after unsubscribing: %q", text(t, ctx))
	}
	if got := types(s.ledger(t, "browser@example.com")); got != "signup,granted,confirmed,withdrawn" {
		t.Errorf("ledger: %s", got)
	}
}

// pressAndWait presses the page's form button and waits for the next page,
// whose heading contains want.
func pressAndWait(ctx context.Context, want string) error {
	return chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(`form button[type=submit]`)),
		chromedp.WaitVisible(chromedp.Search(`//h1[contains(., "`+want+`")]`)),
	)
}
