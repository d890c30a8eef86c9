package web_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/unbundled/unbundled/shared/consent"
	"github.com/unbundled/unbundled/shared/consent/consenttest"
	"github.com/unbundled/unbundled/shared/web"
)

// Pages that tell the visitor the next step: the thank-you page, a form
// shown again with what was sent, not-found pages, used links and refused
// posts.

// signupForms are the <form> elements of page.
func signupForms(t *testing.T, page string) []*html.Node {
	t.Helper()
	doc, err := html.Parse(strings.NewReader(page))
	if err != nil {
		t.Fatal(err)
	}
	var forms []*html.Node
	for n := range doc.Descendants() {
		if n.Type == html.ElementNode && n.Data == "form" {
			forms = append(forms, n)
		}
	}
	return forms
}

// checked reports whether the input named name with value is checked in f.
func checked(f *html.Node, name, value string) bool {
	for _, n := range inputs(f)[name] {
		if attr(n, "value") == value {
			_, ok := attrOK(n, "checked")
			return ok
		}
	}
	return false
}

func TestThankYouPageTellsTheNextStep(t *testing.T) {
	tests := []struct {
		name     string
		body     string
		singleIn bool // the magnet does not ask for confirmation
		wantHint bool
	}{
		{"box ticked", "email=ann%40example.com&magnet=uk-gdpr-checklist&marketing_consent=yes", false, true},
		{"box not ticked", "email=ann%40example.com&magnet=uk-gdpr-checklist", false, false},
		{"box ticked, no double opt-in", "email=ann%40example.com&magnet=uk-gdpr-checklist&marketing_consent=yes", true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var options []func(*web.Server)
			if tt.singleIn {
				m := consenttest.SampleMagnet(t)
				no := false
				m.DoubleOptIn = &no
				catalog := consenttest.CatalogOf(t, m)
				options = append(options, func(s *web.Server) { s.Catalog, s.Service.Catalog = catalog, catalog })
			}
			e := newEnv(t, options...)
			w := e.do(t, "POST", "/signup", form, tt.body)
			loc, err := url.Parse(w.Header().Get("Location"))
			if w.Code != http.StatusSeeOther || err != nil || loc.Path != "/thanks" {
				t.Fatalf("sign-up: got %d to %q, want 303 to /thanks", w.Code, w.Header().Get("Location"))
			}
			if got := loc.Query().Get("confirm") == "1"; got != tt.wantHint {
				t.Errorf("confirm hint in %q: got %v, want %v", loc, got, tt.wantHint)
			}
			page := e.do(t, "GET", loc.RequestURI(), "", "")
			body := page.Body.String()
			if page.Code != http.StatusOK || !strings.Contains(body, "We've sent <strong>The UK GDPR Lead-Magnet Checklist</strong> to the address you gave us.") {
				t.Fatalf("thank-you page: %d\n%s", page.Code, body)
			}
			if got := strings.Contains(body, "One more step: confirm your subscription"); got != tt.wantHint {
				t.Errorf("thank-you page asks to confirm: got %v, want %v\n%s", got, tt.wantHint, body)
			}
		})
	}
	// A hand-made hint on a magnet that needs no confirmation claims nothing.
	m := consenttest.SampleMagnet(t)
	no := false
	m.DoubleOptIn = &no
	catalog := consenttest.CatalogOf(t, m)
	e := newEnv(t, func(s *web.Server) { s.Catalog, s.Service.Catalog = catalog, catalog })
	if body := e.do(t, "GET", "/thanks?magnet=uk-gdpr-checklist&confirm=1", "", "").Body.String(); strings.Contains(body, "One more step") {
		t.Errorf("single opt-in magnet shows the confirm step:\n%s", body)
	}
}

func TestThankYouPageForNoOrUnknownMagnet(t *testing.T) {
	e := newEnv(t)
	for target, want := range map[string]int{"/thanks": 400, "/thanks?magnet=unknown": 404} {
		w := e.do(t, "GET", target, "", "")
		if w.Code != want || !strings.Contains(w.Body.String(), "We can't find this download") || strings.Contains(w.Body.String(), "Check your inbox") {
			t.Errorf("GET %s: got %d, want %d and the download-not-found page\n%s", target, w.Code, want, w.Body)
		}
	}
}

func TestSignupErrorShowsTheFormAgain(t *testing.T) {
	e := newEnv(t)
	body := url.Values{"email": {"ann@example"}, "magnet": {"uk-gdpr-checklist"}, "name": {"Ann O'Neil"}, "marketing_consent": {"yes"}}
	w := e.do(t, "POST", "/signup", form, body.Encode(), "Referer", "http://localhost:8080/offers?utm=x")
	page := w.Body.String()
	if w.Code != http.StatusBadRequest {
		t.Fatalf("status: got %d, want 400\n%s", w.Code, page)
	}
	for _, want := range []string{
		"<h1>Please check your details</h1>",
		`<a href="#email-uk-gdpr-checklist">Email address: Enter a valid email address, like name@example.com.</a>`,
		`id="unbundled-error-email-uk-gdpr-checklist">Enter a valid email address, like name@example.com.</p>`,
		`aria-invalid="true" aria-describedby="unbundled-error-email-uk-gdpr-checklist"`,
		"Nothing was saved and no email was sent.",
		// Back to the page the form was on, without its query.
		`<a href="http://localhost:8080/offers">Back to the page you came from</a>`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %s\n%s", want, page)
		}
	}
	if strings.Contains(page, "<strong>email</strong>") {
		t.Errorf("page names a field by its key")
	}
	forms := signupForms(t, page)
	if len(forms) != 1 {
		t.Fatalf("got %d forms, want the one magnet's form", len(forms))
	}
	f := forms[0]
	in := inputs(f)
	if got := attr(in["email"][0], "value"); got != "ann@example" {
		t.Errorf("email shown again: got %q", got)
	}
	if got := attr(in["name"][0], "value"); got != "Ann O'Neil" {
		t.Errorf("name shown again: got %q", got)
	}
	if !checked(f, "marketing_consent", "yes") {
		t.Errorf("the box the visitor ticked is not ticked any more")
	}
	if len(in["form_stamp"]) != 1 || attr(in["form_stamp"][0], "value") == "" || len(in["website"]) != 1 || attr(in["website"][0], "value") != "" {
		t.Errorf("the form lacks fresh bot traps: %v", in)
	}
	if e.store.Writes() != 0 || len(e.mailer.Sent()) != 0 {
		t.Fatalf("a refused sign-up wrote or sent something")
	}

	// Corrected and sent again as it stands, it is taken: the fresh stamp
	// verifies and the ticked box is consent.
	again := defaultPost(f)
	again.Set("email", "ann@example.com")
	w = e.do(t, "POST", "/signup", form, again.Encode(), "Origin", "https://signup.example.com")
	if w.Code != http.StatusSeeOther || !strings.HasSuffix(w.Header().Get("Location"), "&confirm=1") {
		t.Fatalf("sent again: got %d to %q\n%s", w.Code, w.Header().Get("Location"), w.Body)
	}
	if !consent.MarketingStatus(e.ledger(t, "ann@example.com"), consenttest.SamplePurpose).Consented() {
		t.Errorf("consent from the re-shown form was not recorded")
	}
	if got := e.signupEvent(t, "ann@example.com").Name; got != "Ann O'Neil" {
		t.Errorf("name: got %q", got)
	}
}

func TestSignupErrorKeepsAnUntickedBoxUnticked(t *testing.T) {
	e := newEnv(t, withExtraBoxes(t))
	body := url.Values{"email": {""}, "magnet": {"uk-gdpr-checklist"}, "purpose": {"digest"}}
	w := e.do(t, "POST", "/signup", form, body.Encode())
	if w.Code != http.StatusBadRequest {
		t.Fatalf("status: got %d, want 400", w.Code)
	}
	f := signupForms(t, w.Body.String())[0]
	if checked(f, "marketing_consent", "yes") || checked(f, "purpose", "books-r-us") {
		t.Errorf("a box the visitor left unticked is ticked")
	}
	if !checked(f, "purpose", "digest") {
		t.Errorf("the extra box the visitor ticked is not ticked any more")
	}
	if !strings.Contains(w.Body.String(), "Email address: Enter your email address.") {
		t.Errorf("page lacks the labelled message:\n%s", w.Body)
	}
}

func TestSignupErrorShowsOrganisationFieldsAgain(t *testing.T) {
	e := newEnv(t, withAskingMagnet(t))
	body := url.Values{"email": {"ann@acme.example"}, "magnet": {askingMagnet}, "subscriber_type": {"company"},
		"organisation": {"Acme & Sons"}, "company_number": {"01234567"}}
	w := e.do(t, "POST", "/signup", form, body.Encode())
	page := w.Body.String()
	if w.Code != http.StatusBadRequest || !strings.Contains(page, `<a href="#role-`+askingMagnet+`">Your role there: `) {
		t.Fatalf("got %d, want 400 naming the role by its label\n%s", w.Code, page)
	}
	f := signupForms(t, page)[0]
	in := inputs(f)
	if got := attr(in["organisation"][0], "value"); got != "Acme & Sons" {
		t.Errorf("organisation: got %q", got)
	}
	if got := attr(in["company_number"][0], "value"); got != "01234567" {
		t.Errorf("company number: got %q", got)
	}
	if !checked(f, "subscriber_type", "company") || checked(f, "subscriber_type", "individual") {
		t.Errorf("subscriber type not shown as sent")
	}
}

func TestSignupForAnUnknownMagnet(t *testing.T) {
	e := newEnv(t)
	for name, body := range map[string]string{
		"a person":          "email=ann%40example.com&magnet=unknown&marketing_consent=yes",
		"a trapped bot":     "email=ann%40example.com&magnet=unknown&website=spam",
		"a bad address too": "email=nope&magnet=unknown",
	} {
		w := e.do(t, "POST", "/signup", form, body)
		if w.Code != http.StatusNotFound || w.Header().Get("Location") != "" || !strings.Contains(w.Body.String(), "We can't find this download") ||
			!strings.Contains(w.Body.String(), "Nothing was saved and no email was sent.") {
			t.Errorf("%s: got %d (Location %q), want the 404 page\n%s", name, w.Code, w.Header().Get("Location"), w.Body)
		}
	}
	// JSON clients still get the field.
	w := e.do(t, "POST", "/signup", "application/json", `{"email":"ann@example.com","magnet":"unknown"}`)
	var got struct{ Errors map[string]string }
	if w.Code != http.StatusBadRequest || json.Unmarshal(w.Body.Bytes(), &got) != nil || got.Errors["magnet"] == "" {
		t.Errorf("JSON: got %d %s, want 400 naming magnet", w.Code, w.Body)
	}
	if e.store.Writes() != 0 || len(e.mailer.Sent()) != 0 {
		t.Errorf("a sign-up for no download wrote or sent something")
	}
}

func TestUnknownPathGetsTheNotFoundPage(t *testing.T) {
	e := newEnv(t, allowAdmin)
	w := e.do(t, "GET", "/no/such/page", "", "")
	if w.Code != http.StatusNotFound || !strings.Contains(w.Body.String(), "<h1>Page not found</h1>") ||
		!strings.Contains(w.Body.String(), `<a href="https://signup.example.com/withdraw">Get a fresh unsubscribe link</a>`) {
		t.Errorf("GET unknown path: got %d\n%s", w.Code, w.Body)
	}
	if got := w.Header().Get("Content-Security-Policy"); got == "" {
		t.Errorf("the 404 page lacks the security headers")
	}
	if w := e.do(t, "POST", "/nope", "application/json", `{}`); w.Code != http.StatusNotFound || strings.TrimSpace(w.Body.String()) != `{"error":"There is nothing at this address."}` {
		t.Errorf("JSON to an unknown path: got %d %s", w.Code, w.Body)
	}
	if w := e.do(t, "GET", "/admin/nope", "", ""); w.Code != http.StatusNotFound || w.Header().Get("Content-Type") != "application/json" {
		t.Errorf("unknown admin path: got %d %s, want a JSON 404", w.Code, w.Header().Get("Content-Type"))
	}
	// A path we serve, with a method we do not: still 405.
	if w := e.do(t, "DELETE", "/signup", "", ""); w.Code != http.StatusMethodNotAllowed {
		t.Errorf("DELETE /signup: got %d, want 405", w.Code)
	}
	// A function's handler answers another function's path as not found.
	h := e.srv.Handler(web.ConfirmFunction)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/thanks?magnet=uk-gdpr-checklist", nil))
	if rec.Code != http.StatusNotFound || !strings.Contains(rec.Body.String(), "Page not found") {
		t.Errorf("confirm function serving /thanks: got %d", rec.Code)
	}
}

func TestUsedUnsubscribeLink(t *testing.T) {
	e := newEnv(t)
	e.do(t, "POST", "/signup", form, "email=ann%40example.com&magnet=uk-gdpr-checklist&marketing_consent=yes")
	path := unsubscribePath(t, e)
	if w := e.do(t, "POST", path, form, "List-Unsubscribe=One-Click"); w.Code != http.StatusOK {
		t.Fatalf("one-click: %d", w.Code)
	}
	writes := e.store.Writes()
	w := e.do(t, "GET", path, "", "")
	page := w.Body.String()
	if w.Code != http.StatusOK || !strings.Contains(page, "<h1>You're already unsubscribed</h1>") ||
		!strings.Contains(page, "You're already unsubscribed from Example Ltd's marketing emails at <strong>a•••@e•••.com</strong>.") {
		t.Fatalf("used link: got %d\n%s", w.Code, page)
	}
	if strings.Contains(page, "This stops") || len(signupForms(t, page)) != 0 {
		t.Errorf("a used link still offers to stop something:\n%s", page)
	}
	if !strings.Contains(page, `<a href="https://signup.example.com/withdraw">Get a fresh unsubscribe link</a>`) {
		t.Errorf("used link does not point to /withdraw:\n%s", page)
	}
	if e.store.Writes() != writes {
		t.Errorf("GET on a used link wrote to the store")
	}
}

func TestUsedUnsubscribeLinkOffersToStopWhatStillStands(t *testing.T) {
	e := newEnv(t, withExtraBoxes(t))
	e.do(t, "POST", "/signup", form, "email=ann%40example.com&magnet=uk-gdpr-checklist&marketing_consent=yes&purpose=digest")
	path := unsubscribePath(t, e)
	e.do(t, "POST", path, form, "List-Unsubscribe=One-Click") // the main purpose only
	page := e.do(t, "GET", path, "", "").Body.String()
	if !strings.Contains(page, "You're already unsubscribed") || !strings.Contains(page, "<button type=\"submit\">Stop all marketing from Example Ltd</button>") {
		t.Fatalf("used link with the digest still standing:\n%s", page)
	}
	if forms := signupForms(t, page); len(forms) != 1 || !checkedHidden(forms[0], "scope", "all") {
		t.Errorf("want exactly one button, stopping all marketing")
	}
}

// checkedHidden reports whether f has a hidden input name=value.
func checkedHidden(f *html.Node, name, value string) bool {
	for _, n := range inputs(f)[name] {
		if attr(n, "type") == "hidden" && attr(n, "value") == value {
			return true
		}
	}
	return false
}

func TestLinksThatNoLongerWorkPointToWithdraw(t *testing.T) {
	e := newEnv(t)
	e.do(t, "POST", "/signup", form, "email=ann%40example.com&magnet=uk-gdpr-checklist&marketing_consent=yes")
	confirm := confirmPath(t, e)
	withdraw := `<a href="https://signup.example.com/withdraw">Get a fresh unsubscribe link</a>`
	if page := e.do(t, "GET", "/unsubscribe?t=garbage", "", "").Body.String(); !strings.Contains(page, withdraw) {
		t.Errorf("bad link page:\n%s", page)
	}
	e.do(t, "POST", unsubscribePath(t, e), form, "List-Unsubscribe=One-Click")
	if page := e.do(t, "GET", confirm, "", "").Body.String(); !strings.Contains(page, "Nothing to confirm") || !strings.Contains(page, withdraw) {
		t.Errorf("nothing-to-confirm page:\n%s", page)
	}
	e.svc.Now = func() time.Time { return time.Now().Add(8 * 24 * time.Hour) }
	if page := e.do(t, "GET", confirm, "", "").Body.String(); !strings.Contains(page, "Email me a new link") || !strings.Contains(page, withdraw) {
		t.Errorf("expired confirm link page:\n%s", page)
	}
}

func TestRefusedCrossOriginSignupSaysWhatToDo(t *testing.T) {
	e := newEnv(t)
	w := e.do(t, "POST", "/signup", form, "email=ann%40example.com&magnet=uk-gdpr-checklist", "Origin", "https://shop.example")
	page := w.Body.String()
	for _, want := range []string{
		"This form was sent from a page we don't recognise (<strong>https://shop.example</strong>), so nothing was saved and no email was sent.",
		`<a href="http://127.0.0.1:8080">Sign up on 127.0.0.1:8080</a>, using the form on that site.`,
		"Is this your website? Add your site's address (<code>https://shop.example</code>) to the download's <code>allowed_origins</code>",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("refusal page lacks %s\n%s", want, page)
		}
	}
	if w.Code != http.StatusForbidden {
		t.Errorf("status: got %d, want 403", w.Code)
	}
	// A post to one of our own pages from elsewhere: back to that page.
	w = e.do(t, "POST", "/withdraw", form, "email=ann%40example.com", "Origin", "https://shop.example")
	if page := w.Body.String(); w.Code != http.StatusForbidden || !strings.Contains(page, `<a href="https://signup.example.com/withdraw">Open the form to stop marketing emails</a> and use the button there.`) ||
		strings.Contains(page, "allowed_origins") {
		t.Errorf("refused withdrawal: got %d\n%s", w.Code, page)
	}
}

func TestWithdrawFormShowsTheAddressAgain(t *testing.T) {
	e := newEnv(t)
	w := e.do(t, "POST", "/withdraw", form, "email=ann%40example")
	if w.Code != http.StatusBadRequest || !strings.Contains(w.Body.String(), `value="ann@example" aria-invalid="true"`) {
		t.Errorf("got %d\n%s", w.Code, w.Body)
	}
}
