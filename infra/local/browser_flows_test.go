package main_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestBrowserVisitorWhoDoesNotTick: a visitor who leaves the box unticked
// gets the thank-you page without the confirm step, the freebie without a
// confirm link, and the ledger records the sign-up and no grant.
func TestBrowserVisitorWhoDoesNotTick(t *testing.T) {
	ctx := browser(t) // first: skips under -short
	s := start(t, t.TempDir())
	a := newAuditor(t, ctx, s.base)

	visit(t, ctx, s.base+"/", `//input[@id="email-uk-gdpr-checklist"]`)
	err := chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.CSS(`#email-uk-gdpr-checklist`), "nobox@example.com"),
		chromedp.Click(chromedp.CSS(`section button[type=submit]`)),
		chromedp.WaitVisible(chromedp.Search(`//h1[contains(., "Check your inbox")]`)),
	)
	if err != nil {
		t.Fatalf("submit the form: %v", err)
	}
	if page := text(t, ctx); strings.Contains(page, "confirm") || !strings.Contains(page, "The UK GDPR Lead-Magnet Checklist") {
		t.Errorf("thank-you page for an unticked box:\n%s", page)
	}
	a.check(t, "thanks")

	box := s.mailbox(t)
	if len(box) != 1 || !strings.HasPrefix(box[0].Subject, "Your download:") {
		t.Fatalf("mailbox: %d messages, want the freebie", len(box))
	}
	if strings.Contains(box[0].Text, "/confirm?t=") || strings.Contains(box[0].HTML, "/confirm?t=") {
		t.Errorf("the freebie of an unticked box has a confirm link:\n%s", box[0].Text)
	}
	a.email(t, box[0], "email-freebie-unticked", `//a[starts-with(., "Download")]`)
	download, err := chromedp.Run(ctx, chromedp.AttributeValue(chromedp.Search(`//a[starts-with(., "Download")]`), "href"))
	if err != nil || !strings.HasPrefix(download.Value, s.base+"/_local/files/") {
		t.Fatalf("the email's download button links to %q (%v)", download.Value, err)
	}
	if resp, _ := s.do(t, "GET", strings.TrimPrefix(download.Value, s.base), "", ""); resp.StatusCode != http.StatusOK {
		t.Errorf("the download: %d", resp.StatusCode)
	}
	if got := types(s.ledger(t, "nobox@example.com")); got != "signup" {
		t.Errorf("ledger: %s, want the sign-up and no grant", got)
	}
}

// TestBrowserPagesAndEmails audits the pages and emails the two visitors
// above do not reach: the re-shown form after a mistake, the privacy
// notice, the 404 page, a fresh confirm link, self-service withdrawal and
// data requests with their emails, and the ledger's search form.
func TestBrowserPagesAndEmails(t *testing.T) {
	ctx := browser(t) // first: skips under -short
	s := start(t, t.TempDir())
	a := newAuditor(t, ctx, s.base)
	const email = "pages@example.com"

	visit(t, ctx, s.base+"/no-such-page", `//h1[.="Page not found"]`)
	a.check(t, "not-found")

	// A name with digits: the form comes back with the message and what
	// the visitor typed.
	visit(t, ctx, s.base+"/", `//input[@id="email-uk-gdpr-checklist"]`)
	err := chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.CSS(`#email-uk-gdpr-checklist`), email),
		chromedp.SendKeys(chromedp.CSS(`#name-uk-gdpr-checklist`), "Ann 2"),
		chromedp.Click(chromedp.CSS(`#consent-uk-gdpr-checklist`)),
		chromedp.Click(chromedp.CSS(`section button[type=submit]`)),
		chromedp.WaitVisible(chromedp.Search(`//h1[.="Please check your details"]`)),
	)
	if err != nil {
		t.Fatalf("submit a bad name: %v", err)
	}
	kept, err := chromedp.Run(ctx, chromedp.AttributeValue(chromedp.CSS(`#email-uk-gdpr-checklist`), "value"))
	if err != nil || kept.Value != email {
		t.Errorf("the re-shown form lost the address: %q, %v", kept.Value, err)
	}
	a.check(t, "signup-error")
	clickTo(t, ctx, `//a[.="Privacy notice"]`, `//article//h1`)
	a.check(t, "notice")

	// Sign up properly (without the browser: its pages are audited above),
	// ask for a fresh confirm link, confirm.
	resp, _ := s.do(t, "POST", "/signup", "application/x-www-form-urlencoded",
		url.Values{"email": {email}, "magnet": {"uk-gdpr-checklist"}, "marketing_consent": {"yes"}}.Encode())
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign-up: %d", resp.StatusCode)
	}
	confirm := ""
	for _, l := range linkPattern.FindAllString(findMail(t, s.mailbox(t), "Your download:").Text, -1) {
		if strings.Contains(l, "/confirm?t=") {
			confirm = l
		}
	}
	if confirm == "" {
		t.Fatal("no confirm link in the freebie")
	}
	path := strings.TrimPrefix(confirm, s.base)
	if resp, body := s.do(t, "POST", strings.Replace(path, "/confirm?", "/confirm/resend?", 1), "", ""); resp.StatusCode != http.StatusOK {
		t.Fatalf("resend the confirm link: %d %s", resp.StatusCode, body)
	}
	a.email(t, findMail(t, s.mailbox(t), "Please confirm"), "email-confirm-link", `//a[starts-with(., "Confirm you want")]`)
	if resp, body := s.do(t, "POST", path, "application/x-www-form-urlencoded", "confirm=yes"); resp.StatusCode != http.StatusOK {
		t.Fatalf("confirm: %d %s", resp.StatusCode, body)
	}

	// Self-service withdrawal: the form, its answer, the emailed link.
	visit(t, ctx, s.base+"/withdraw", `//h1[.="Stop marketing emails"]`)
	a.check(t, "withdraw")
	err = chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.CSS(`#email`), email),
		chromedp.Click(chromedp.CSS(`form button[type=submit]`)),
		chromedp.WaitVisible(chromedp.Search(`//h1[.="Check your inbox"]`)),
	)
	if err != nil {
		t.Fatalf("ask for an unsubscribe link: %v", err)
	}
	a.check(t, "withdraw-sent")
	a.email(t, findMail(t, s.mailbox(t), "Your unsubscribe link"), "email-withdraw-link", `//a[.="Unsubscribe"]`)

	// Self-service data request: the form, its answer, the emailed link,
	// its page and the data.
	visit(t, ctx, s.base+"/privacy", `//h1[contains(., "Get a copy of your data")]`)
	a.check(t, "privacy")
	err = chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.CSS(`#email`), email),
		chromedp.Click(chromedp.CSS(`#request-export`)),
		chromedp.Click(chromedp.CSS(`form button[type=submit]`)),
		chromedp.WaitVisible(chromedp.Search(`//h1[.="Check your inbox"]`)),
	)
	if err != nil {
		t.Fatalf("ask for a copy of the data: %v", err)
	}
	a.check(t, "privacy-sent")
	privacyMail := findMail(t, s.mailbox(t), "Your link to see the data")
	a.email(t, privacyMail, "email-privacy-link", `//a[.="See my data"]`)
	visit(t, ctx, s.base+"/_local/mailbox/"+privacyMail.ID+"/html", `//a[.="See my data"]`)
	clickTo(t, ctx, `//a[.="See my data"]`, `//h1[.="See your data"]`)
	a.check(t, "privacy-link")
	if err := pressAndWait(ctx, "Your data"); err != nil {
		t.Fatalf("show the data: %v", err)
	}
	if page := text(t, ctx); !strings.Contains(page, email) {
		t.Errorf("the data page does not name the address:\n%s", page)
	}
	a.check(t, "privacy-data")

	visit(t, ctx, s.base+"/_local/ledger", `//h1[.="Consent ledger"]`)
	a.check(t, "ledger-search")
}

// TestBrowserSnippetOnAnotherOrigin pastes the generated snippet, with its
// script, into a plain page served from another origin, as a site owner
// would (an include on every render). From an origin in the magnet's
// allowed_origins the sign-up works with JavaScript (the thank-you in place
// of the form, by fetch) and without (a post, then the thank-you page);
// from an origin not in the list it is refused either way and nothing is
// recorded.
func TestBrowserSnippetOnAnotherOrigin(t *testing.T) {
	chromiumPath(t) // first: skips under -short
	var base string // the local server's URL: set before the pages are served
	landing := func(w http.ResponseWriter, r *http.Request) {
		resp, err := http.Get(base + "/forms/uk-gdpr-checklist")
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		snippet, err := io.ReadAll(resp.Body)
		if err != nil || resp.StatusCode != http.StatusOK {
			http.Error(w, fmt.Sprintf("snippet: %d %v", resp.StatusCode, err), http.StatusBadGateway)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>A landing page elsewhere</title></head>
<body>
<main>
<h1>Get the checklist</h1>
%s
<script src="%s/forms/uk-gdpr-checklist.js" defer></script>
</main>
</body>
</html>`, snippet, base)
	}
	allowed := httptest.NewUnstartedServer(http.HandlerFunc(landing))
	other := httptest.NewUnstartedServer(http.HandlerFunc(landing))
	magnets := withAllowedOrigin(t, "http://"+allowed.Listener.Addr().String())
	s := start(t, t.TempDir(), "-magnets", magnets)
	base = s.base
	for _, page := range []*httptest.Server{allowed, other} {
		page.Start()
		t.Cleanup(page.Close)
	}

	for _, js := range []bool{true, false} {
		mode := map[bool]string{true: "js", false: "nojs"}[js]
		t.Run(mode, func(t *testing.T) {
			ctx := newBrowser(t, js)
			a := newAuditor(t, ctx, s.base)

			// Allowed origin, box ticked.
			email := "snippet-" + mode + "@example.com"
			visit(t, ctx, allowed.URL+"/", `//input[@id="email-uk-gdpr-checklist"]`)
			if js {
				// The script has enhanced the form and refreshed its stamp.
				if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS(`form[data-unbundled-fresh="yes"]`))); err != nil {
					t.Fatalf("the script did not refresh the form: %v", err)
				}
			}
			a.check(t, "snippet-"+mode)
			err := chromedp.Do(ctx,
				chromedp.SendKeys(chromedp.CSS(`#email-uk-gdpr-checklist`), email),
				chromedp.Click(chromedp.CSS(`#consent-uk-gdpr-checklist`)),
				chromedp.Click(chromedp.CSS(`form button[type=submit]`)),
			)
			if err != nil {
				t.Fatalf("submit the snippet: %v", err)
			}
			if js {
				err = chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS(`.unbundled-thanks`)))
				location, _ := chromedp.Run(ctx, chromedp.Location())
				if err != nil || !strings.HasPrefix(location, allowed.URL) {
					t.Fatalf("with JavaScript: at %s, want the thank-you in place of the form: %v", location, err)
				}
				if page := text(t, ctx); !strings.Contains(page, "One more step") {
					t.Errorf("inline thank-you lacks the confirm step:\n%s", page)
				}
				a.check(t, "snippet-thanks-js")
			} else {
				err = chromedp.Do(ctx, chromedp.WaitVisible(chromedp.Search(`//h1[.="Check your inbox"]`)))
				location, _ := chromedp.Run(ctx, chromedp.Location())
				if err != nil || !strings.HasPrefix(location, s.base+"/thanks?magnet=uk-gdpr-checklist") {
					t.Fatalf("without JavaScript: at %s, want the thank-you page: %v", location, err)
				}
			}
			if got := types(s.ledger(t, email)); got != "signup,granted" {
				t.Errorf("ledger after the sign-up from %s: %s", allowed.URL, got)
			}

			// An origin the magnet does not allow: refused, nothing stored.
			refused := "refused-" + mode + "@example.com"
			visit(t, ctx, other.URL+"/", `//input[@id="email-uk-gdpr-checklist"]`)
			err = chromedp.Do(ctx,
				chromedp.SendKeys(chromedp.CSS(`#email-uk-gdpr-checklist`), refused),
				chromedp.Click(chromedp.CSS(`#consent-uk-gdpr-checklist`)),
				chromedp.Click(chromedp.CSS(`form button[type=submit]`)),
				chromedp.WaitVisible(chromedp.Search(`//h1[.="Form not accepted"]`)),
			)
			if err != nil {
				location, _ := chromedp.Run(ctx, chromedp.Location())
				t.Fatalf("from %s: at %s, want the refusal page: %v", other.URL, location, err)
			}
			if page := text(t, ctx); !strings.Contains(page, other.URL) {
				t.Errorf("the refusal page does not name the origin %s:\n%s", other.URL, page)
			}
			if !js {
				a.check(t, "not-allowed")
			}
			if got := s.ledger(t, refused); len(got) != 0 {
				t.Errorf("a refused sign-up was recorded: %s", types(got))
			}
		})
	}
}

// withAllowedOrigin writes a copy of magnets.json whose magnets also allow
// origin, and returns its path.
func withAllowedOrigin(t *testing.T, origin string) string {
	t.Helper()
	raw, err := os.ReadFile("magnets.json")
	if err != nil {
		t.Fatal(err)
	}
	var catalog struct {
		Magnets []map[string]any `json:"magnets"`
	}
	if err := json.Unmarshal(raw, &catalog); err != nil {
		t.Fatal(err)
	}
	for _, m := range catalog.Magnets {
		origins, _ := m["allowed_origins"].([]any)
		m["allowed_origins"] = append(origins, origin)
	}
	out, err := json.Marshal(catalog)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "magnets.json")
	if err := os.WriteFile(path, out, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
