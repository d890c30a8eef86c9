package web_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/net/html"

	"github.com/unbundled/unbundled/shared/consent"
	"github.com/unbundled/unbundled/shared/consent/consenttest"
	"github.com/unbundled/unbundled/shared/magnet"
	"github.com/unbundled/unbundled/shared/web"
)

const (
	partnerPurpose = consenttest.SamplePurpose + "/books-r-us"
	partnerWording = "Yes, Books R Us Ltd (2 Low St, Leeds) may email me offers of business books. I can unsubscribe at any time."
	digestWording  = "Yes, Example Ltd may also send me its monthly digest & reading list."
)

// withExtraBoxes gives the sample magnet two extra boxes under its main
// one: a named partner's offers and a monthly digest.
func withExtraBoxes(t *testing.T) func(*web.Server) {
	t.Helper()
	m := consenttest.SampleMagnet(t)
	m.ExtraPurposes = []magnet.ExtraPurpose{
		{ID: "books-r-us", Name: "offers from Books R Us Ltd", Wording: partnerWording, Partner: "Books R Us Ltd, 2 Low St, Leeds"},
		{ID: "digest", Name: "the monthly digest from Example Ltd", Wording: digestWording},
	}
	catalog := consenttest.CatalogOf(t, m)
	return func(s *web.Server) { s.Catalog, s.Service.Catalog = catalog, catalog }
}

// grantedPurposes lists the purposes of the `granted` events of address.
func (e *env) grantedPurposes(t *testing.T, address string) string {
	t.Helper()
	var ps []string
	for _, ev := range e.ledger(t, address) {
		if ev.Type == consent.EventGranted {
			ps = append(ps, ev.Purpose)
		}
	}
	return strings.Join(ps, ",")
}

// Scenario: partner purpose only if its own box was ticked.
func TestSignupTicksOnlyTheBoxesTicked(t *testing.T) {
	tests := []struct {
		name, contentType, body string
		wantStatus              int
		wantGranted             string
	}{
		{"form: only the partner box", form, "email=ann%40example.com&magnet=uk-gdpr-checklist&purpose=books-r-us", http.StatusSeeOther, partnerPurpose},
		{"form: main box only", form, "email=ann%40example.com&magnet=uk-gdpr-checklist&marketing_consent=yes", http.StatusSeeOther, consenttest.SamplePurpose},
		{"form: every box", form, "email=ann%40example.com&magnet=uk-gdpr-checklist&purpose=digest&marketing_consent=yes&purpose=books-r-us", http.StatusSeeOther,
			consenttest.SamplePurpose + "," + partnerPurpose + "," + consenttest.SamplePurpose + "/digest"},
		{"multipart: only the digest box", "multipart/form-data; boundary=XX", multipart("email", "ann@example.com", "magnet", "uk-gdpr-checklist", "purpose", "digest"),
			http.StatusSeeOther, consenttest.SamplePurpose + "/digest"},
		{"JSON: only the partner box", "application/json", `{"email":"ann@example.com","magnet":"uk-gdpr-checklist","purposes":["books-r-us"]}`, http.StatusAccepted, partnerPurpose},
		{"JSON: main and partner", "application/json", `{"email":"ann@example.com","magnet":"uk-gdpr-checklist","marketing_consent":true,"purposes":["books-r-us"]}`,
			http.StatusAccepted, consenttest.SamplePurpose + "," + partnerPurpose},
		{"JSON: no boxes", "application/json", `{"email":"ann@example.com","magnet":"uk-gdpr-checklist","purposes":[]}`, http.StatusAccepted, ""},
		{"JSON: null", "application/json", `{"email":"ann@example.com","magnet":"uk-gdpr-checklist","purposes":null}`, http.StatusAccepted, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, withExtraBoxes(t))
			w := e.do(t, "POST", "/signup", tt.contentType, tt.body)
			if w.Code != tt.wantStatus {
				t.Fatalf("status: got %d, want %d (%s)", w.Code, tt.wantStatus, w.Body)
			}
			if got := e.grantedPurposes(t, "ann@example.com"); got != tt.wantGranted {
				t.Errorf("granted purposes: got %q, want %q", got, tt.wantGranted)
			}
			if got := len(e.mailer.Sent()); got != 1 {
				t.Errorf("emails: got %d, want the freebie whatever was ticked", got)
			}
		})
	}
}

// A box the magnet does not offer, the same box twice, too many values or
// a value in the URL: 400 naming purposes (or the URL's field), nothing
// stored or sent.
func TestSignupRefusesBadPurposes(t *testing.T) {
	const base = "email=ann%40example.com&magnet=uk-gdpr-checklist&marketing_consent=yes"
	const jsonBase = `"email":"ann@example.com","magnet":"uk-gdpr-checklist","marketing_consent":true`
	tests := []struct {
		name, target, contentType, body string
		wantField                       string
	}{
		{"form: unknown box", "/signup", form, base + "&purpose=selected-third-parties", "purposes"},
		{"form: full purpose id", "/signup", form, base + "&purpose=" + url.QueryEscape(partnerPurpose), "purposes"},
		{"form: empty value", "/signup", form, base + "&purpose=", "purposes"},
		{"form: the same box twice", "/signup", form, base + "&purpose=digest&purpose=digest", "purposes"},
		{"form: six values", "/signup", form, base + strings.Repeat("&purpose=digest", 6), "purposes"},
		{"form: a long value", "/signup", form, base + "&purpose=" + strings.Repeat("x", 64), "purposes"},
		{"form: box in the URL", "/signup?purpose=books-r-us", form, base, "purpose"},
		{"JSON: unknown box", "/signup", "application/json", `{` + jsonBase + `,"purposes":["books"]}`, "purposes"},
		{"JSON: a string, not an array", "/signup", "application/json", `{` + jsonBase + `,"purposes":"books-r-us"}`, "purposes"},
		{"JSON: a number in the array", "/signup", "application/json", `{` + jsonBase + `,"purposes":[1]}`, "purposes"},
		{"JSON: purposes twice", "/signup", "application/json", `{` + jsonBase + `,"purposes":["digest"],"purposes":["books-r-us"]}`, "purposes"},
		{"JSON: the form's name", "/signup", "application/json", `{` + jsonBase + `,"purpose":["digest"]}`, "purpose"},
		{"JSON: purposes in the URL", "/signup?purposes=digest", "application/json", `{` + jsonBase + `}`, "purposes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, withExtraBoxes(t))
			w := e.do(t, "POST", tt.target, tt.contentType, tt.body)
			if w.Code != http.StatusBadRequest {
				t.Fatalf("status: got %d, want 400 (%s)", w.Code, w.Body)
			}
			if tt.contentType == "application/json" {
				var got struct{ Errors map[string]string }
				if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil || got.Errors[tt.wantField] == "" {
					t.Errorf("body %s: want an error for %q", w.Body, tt.wantField)
				}
			} else if body := w.Body.String(); !strings.Contains(body, "The boxes you ticked") || strings.Contains(body, "<strong>"+tt.wantField+"</strong>") || !strings.Contains(body, "Nothing was saved") {
				t.Errorf("error page does not name the boxes for people (%q):\n%s", tt.wantField, body)
			}
			if e.store.Writes() != 0 || len(e.mailer.Sent()) != 0 {
				t.Errorf("got %d writes and %d mails, want none", e.store.Writes(), len(e.mailer.Sent()))
			}
		})
	}
	// A magnet without extra boxes takes none.
	e := newEnv(t)
	if w := e.do(t, "POST", "/signup", form, base+"&purpose=books-r-us"); w.Code != http.StatusBadRequest || !strings.Contains(w.Body.String(), "The boxes you ticked") {
		t.Errorf("extra box on the plain magnet: %d, want 400 naming purposes", w.Code)
	}
}

// The landing page puts one unticked box per extra purpose under the main
// one, each with its own label holding the exact wording, the partner
// named beside it.
func TestLandingPageShowsExtraBoxesUnticked(t *testing.T) {
	e := newEnv(t, withExtraBoxes(t))
	w := httptest.NewRecorder()
	e.srv.LandingPage(w, httptest.NewRequest("GET", "/", nil))
	doc, err := html.Parse(strings.NewReader(w.Body.String()))
	if err != nil {
		t.Fatal(err)
	}
	var f *html.Node
	for n := range doc.Descendants() {
		if n.Type == html.ElementNode && n.Data == "form" {
			f = n
		}
	}
	labels := map[string]string{} // for -> text
	described := map[string]string{}
	for n := range f.Descendants() {
		if n.Type == html.ElementNode && n.Data == "label" {
			labels[attr(n, "for")] = strings.Join(strings.Fields(textOf(n)), " ")
		}
		if n.Type == html.ElementNode && attr(n, "id") != "" {
			described[attr(n, "id")] = strings.Join(strings.Fields(textOf(n)), " ")
		}
	}
	boxes := inputs(f)["purpose"]
	if len(boxes) != 2 {
		t.Fatalf("got %d extra boxes, want 2:\n%s", len(boxes), w.Body)
	}
	main := inputs(f)["marketing_consent"][0]
	for i, want := range []struct{ value, wording, partner string }{
		{"books-r-us", partnerWording, "Books R Us Ltd, 2 Low St, Leeds"},
		{"digest", digestWording, ""},
	} {
		box := boxes[i]
		if attr(box, "type") != "checkbox" || attr(box, "value") != want.value {
			t.Errorf("box %d: type %q value %q, want a checkbox with value %q", i, attr(box, "type"), attr(box, "value"), want.value)
		}
		if _, checked := attrOK(box, "checked"); checked {
			t.Errorf("box %s is ticked: every box must start unticked", want.value)
		}
		id := attr(box, "id")
		if id == "" || id == attr(main, "id") || labels[id] != want.wording {
			t.Errorf("box %s: label for %q is %q, want exactly %q", want.value, id, labels[id], want.wording)
		}
		if want.partner != "" && !strings.Contains(described[attr(box, "aria-describedby")], want.partner) {
			t.Errorf("box %s: description %q does not name the partner %q", want.value, described[attr(box, "aria-describedby")], want.partner)
		}
	}
	if _, checked := attrOK(main, "checked"); checked {
		t.Errorf("the main box is ticked")
	}
	if !strings.Contains(w.Body.String(), "whether or not you tick any of the boxes below") {
		t.Errorf("the page does not say the download never depends on the boxes")
	}
	// Posting the form untouched ticks nothing; the download still goes.
	post := defaultPost(f)
	post.Set("email", "ann@example.com")
	post.Del("form_stamp") // posted at once, it would be trapped as a bot
	if got := e.do(t, "POST", "/signup", form, post.Encode()); got.Code != http.StatusSeeOther {
		t.Fatalf("untouched form: %d (%s)", got.Code, got.Body)
	}
	if got := e.grantedPurposes(t, "ann@example.com"); got != "" || len(e.mailer.Sent()) != 1 {
		t.Errorf("untouched form: granted %q and %d emails, want nothing granted and the freebie", got, len(e.mailer.Sent()))
	}
}

// One confirm link for a sign-up that ticked two boxes: its page quotes
// both wordings, and its button confirms both.
func TestConfirmPageQuotesEveryBoxTicked(t *testing.T) {
	e := newEnv(t, withExtraBoxes(t))
	e.do(t, "POST", "/signup", form, "email=ann%40example.com&magnet=uk-gdpr-checklist&marketing_consent=yes&purpose=books-r-us")
	path := confirmPath(t, e)
	page := e.do(t, "GET", path, "", "").Body.String()
	m, _ := e.svc.Catalog.Get("uk-gdpr-checklist")
	if !strings.Contains(page, "ticked these boxes") || !strings.Contains(page, m.ConsentWording) || !strings.Contains(page, partnerWording) {
		t.Errorf("confirm page lacks a wording:\n%s", page)
	}
	w := e.do(t, "POST", path, form, "confirm=yes")
	if w.Code != 200 || !strings.Contains(w.Body.String(), "you are subscribed") || !strings.Contains(w.Body.String(), "offers from Books R Us Ltd") {
		t.Fatalf("confirm: %d\n%s", w.Code, w.Body)
	}
	events := e.ledger(t, "ann@example.com")
	for _, p := range []string{consenttest.SamplePurpose, partnerPurpose} {
		if st := consent.MarketingStatus(events, p); !st.Eligible() {
			t.Errorf("%s after the one confirm link: %s, want active", p, st.State)
		}
	}
	if st := consent.MarketingStatus(events, consenttest.SamplePurpose+"/digest"); st.State != consent.StateNone {
		t.Errorf("the unticked digest box: %s, want none", st.State)
	}
}
