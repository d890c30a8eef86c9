package web_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/unbundled/unbundled/shared/consent"
	"github.com/unbundled/unbundled/shared/consent/consenttest"
	"github.com/unbundled/unbundled/shared/web"
)

const (
	snippetMagnet = "uk-gdpr-checklist"
	landingOrigin = "https://landing.example"
	// snippetWording has what HTML escapes (&, <, >, quotes, +), two
	// spaces and non-ASCII letters: the snippet must carry it exactly.
	snippetWording = `Yes, Example Ltd & Zoë's team may email me <monthly> "tips" + offers  about growing a small business. I can unsubscribe at any time.`
)

// withSnippetMagnet gives the sample magnet snippetWording and lets
// landingOrigin post and read its form; a second magnet allows another
// site only.
func withSnippetMagnet(t *testing.T) func(*web.Server) {
	t.Helper()
	m := consenttest.SampleMagnet(t)
	m.ConsentWording = snippetWording
	m.AllowedOrigins = []string{landingOrigin}
	other := consenttest.SampleMagnet(t)
	other.ID, other.AllowedOrigins = "other-guide", []string{"https://other.example"}
	catalog := consenttest.CatalogOf(t, m, other)
	return func(s *web.Server) { s.Catalog, s.Service.Catalog = catalog, catalog }
}

// snippetForm fetches GET /forms/<magnetID> and returns its raw text and
// its form.
func snippetForm(t *testing.T, e *env, magnetID string, headers ...string) (string, *html.Node) {
	t.Helper()
	w := e.do(t, "GET", "/forms/"+magnetID, "", "", headers...)
	if w.Code != http.StatusOK {
		t.Fatalf("GET /forms/%s: %d\n%s", magnetID, w.Code, w.Body)
	}
	if got := w.Header().Get("Content-Type"); got != "text/html; charset=utf-8" {
		t.Errorf("Content-Type: got %q, want text/html; charset=utf-8", got)
	}
	return w.Body.String(), onlyForm(t, w.Body.String())
}

func onlyForm(t *testing.T, page string) *html.Node {
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
	if len(forms) != 1 {
		t.Fatalf("got %d forms, want 1:\n%s", len(forms), page)
	}
	return forms[0]
}

// wordingOf is the text of the wording next to the box with id box in f,
// exactly as a browser reads it (entities decoded, nothing collapsed).
func wordingOf(t *testing.T, f *html.Node, box string) string {
	t.Helper()
	for n := range f.Descendants() {
		if n.Type != html.ElementNode || n.Data != "label" || attr(n, "for") != box {
			continue
		}
		for c := range n.Descendants() {
			if c.Type == html.ElementNode && attr(c, "class") == "unbundled-wording" {
				return textOf(c)
			}
		}
	}
	t.Fatalf("no wording in the label of box %s", box)
	return ""
}

// The done-when of issue 14 item 1: the snippet served for a magnet holds,
// byte for byte, the wording the ledger records for a sign-up made through
// it, and the grant says the wording is verified.
func TestSnippetWordingIsWhatTheLedgerRecords(t *testing.T) {
	e := newEnv(t, withSnippetMagnet(t), func(s *web.Server) { s.FormMinAge = 2 * time.Second })
	raw, f := snippetForm(t, e, snippetMagnet, "Origin", landingOrigin)
	shown := wordingOf(t, f, "consent-"+snippetMagnet)
	if shown != snippetWording {
		t.Fatalf("snippet shows %q, want the configured wording %q", shown, snippetWording)
	}
	if got, want := attr(f, "action"), "https://signup.example.com/signup"; got != want {
		t.Errorf("form action: got %q, want the absolute %q", got, want)
	}
	if box := inputs(f)["marketing_consent"]; len(box) != 1 || attr(box[0], "type") != "checkbox" {
		t.Fatalf("want one marketing_consent checkbox, got %d", len(box))
	} else if _, ticked := attrOK(box[0], "checked"); ticked {
		t.Errorf("the box is ticked in the snippet")
	}
	for _, want := range []string{`name="consent_version" value="w`, `name="form_stamp" value="`, `name="website" value=""`,
		"monthly emails from Example Ltd", `<a href="https://example.com/privacy">Privacy policy</a>`,
		`<a href="https://signup.example.com/notice?magnet=uk-gdpr-checklist">Privacy notice</a>`,
		"whether or not you tick the box", "Send me the download (the box is optional)</button>", "<style>"} {
		if !strings.Contains(raw, want) {
			t.Errorf("snippet lacks %s:\n%s", want, raw)
		}
	}

	// A visitor ticks the box and posts the snippet, after a human's pause.
	post := defaultPost(f)
	post.Set("email", "ann@example.com")
	post.Set("marketing_consent", attr(inputs(f)["marketing_consent"][0], "value"))
	e.svc.Now = func() time.Time { return time.Now().Add(3 * time.Second) }
	w := e.do(t, "POST", strings.TrimPrefix(attr(f, "action"), "https://signup.example.com"), form, post.Encode(), "Origin", landingOrigin)
	if w.Code != http.StatusSeeOther {
		t.Fatalf("posting the snippet: %d\n%s", w.Code, w.Body)
	}
	granted := grants(t, e, "ann@example.com")
	if len(granted) != 1 {
		t.Fatalf("got %d granted events, want 1 (was the sign-up trapped?)", len(granted))
	}
	g := granted[0]
	if g.Wording != shown {
		t.Errorf("ledger records %q, the snippet showed %q", g.Wording, shown)
	}
	if g.WordingVersion != post.Get("consent_version") || g.WordingStatus != consent.WordingVerified {
		t.Errorf("grant: version %q status %q, want the snippet's %q and %q", g.WordingVersion, g.WordingStatus, post.Get("consent_version"), consent.WordingVerified)
	}
}

func grants(t *testing.T, e *env, address string) []consent.Event {
	t.Helper()
	var out []consent.Event
	for _, ev := range e.ledger(t, address) {
		if ev.Type == consent.EventGranted {
			out = append(out, ev)
		}
	}
	return out
}

// A sign-up that does not say which wording it showed is recorded with
// the wording configured at the time, marked unverified; one that names a
// version is verified.
func TestSignupWordingStatus(t *testing.T) {
	version := consent.NewWordingVersion(consenttest.SampleMagnet(t)).ID
	tests := []struct {
		name, contentType, body string
		want                    string
	}{
		{"hand-written form", form, "email=ann%40example.com&magnet=uk-gdpr-checklist&marketing_consent=yes", consent.WordingUnverified},
		{"JSON without a version", "application/json", `{"email":"ann@example.com","magnet":"uk-gdpr-checklist","marketing_consent":true}`, consent.WordingUnverified},
		{"form naming the version", form, "email=ann%40example.com&magnet=uk-gdpr-checklist&marketing_consent=yes&consent_version=" + version, consent.WordingVerified},
		{"JSON naming the version", "application/json", `{"email":"ann@example.com","magnet":"uk-gdpr-checklist","marketing_consent":true,"consent_version":"` + version + `"}`, consent.WordingVerified},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			if w := e.do(t, "POST", "/signup", tt.contentType, tt.body); w.Code >= 300 && w.Code != http.StatusSeeOther {
				t.Fatalf("sign-up: %d %s", w.Code, w.Body)
			}
			g := grants(t, e, "ann@example.com")
			if len(g) != 1 {
				t.Fatalf("got %d grants, want 1", len(g))
			}
			m, _ := e.svc.Catalog.Get("uk-gdpr-checklist")
			if g[0].WordingStatus != tt.want || g[0].Wording != m.ConsentWording || g[0].WordingVersion != version {
				t.Errorf("grant: status %q, wording %q, version %q; want %q, the configured wording and %s", g[0].WordingStatus, g[0].Wording, g[0].WordingVersion, tt.want, version)
			}
			if st := consent.MarketingStatus(e.ledger(t, "ann@example.com"), consenttest.SamplePurpose); !st.Consented() {
				t.Errorf("consent state %s: an unverified wording still counts", st.State)
			}
		})
	}
}

// An extra box's wording version is named by no form: its grant quotes
// the configured wording and says it is not verified.
func TestSnippetExtraBoxesAreUnverified(t *testing.T) {
	e := newEnv(t, withExtraBoxes(t))
	_, f := snippetForm(t, e, snippetMagnet)
	post := defaultPost(f)
	post.Set("email", "ann@example.com")
	post.Set("marketing_consent", "yes")
	post.Add("purpose", "books-r-us")
	post.Del("form_stamp")
	if w := e.do(t, "POST", "/signup", form, post.Encode()); w.Code != http.StatusSeeOther {
		t.Fatalf("sign-up: %d %s", w.Code, w.Body)
	}
	want := map[string]string{consenttest.SamplePurpose: consent.WordingVerified, partnerPurpose: consent.WordingUnverified}
	for _, g := range grants(t, e, "ann@example.com") {
		if g.WordingStatus != want[g.Purpose] {
			t.Errorf("grant for %s: status %q, want %q", g.Purpose, g.WordingStatus, want[g.Purpose])
		}
		if g.Purpose == partnerPurpose && g.Wording != wordingOf(t, f, "purpose-"+snippetMagnet+"-books-r-us") {
			t.Errorf("partner grant records %q, the snippet showed %q", g.Wording, wordingOf(t, f, "purpose-"+snippetMagnet+"-books-r-us"))
		}
	}
}

// The snippet and the demo landing page render one template: the same
// fields, labels and wording; only where the form posts and the snippet's
// script hooks differ.
func TestSnippetIsTheLandingPageForm(t *testing.T) {
	for name, option := range map[string]func(*testing.T) func(*web.Server){"extra boxes": withExtraBoxes, "subscriber type": withAskingMagnet} {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, option(t))
			for _, m := range e.svc.Catalog.All() {
				_, snippet := snippetForm(t, e, m.ID)
				landing := landingFormOf(t, e, m.ID)
				if got, want := formShape(snippet), formShape(landing); !slices.Equal(got, want) {
					t.Errorf("%s: snippet and landing page differ:\nsnippet: %q\nlanding: %q", m.ID, got, want)
				}
				if attr(snippet, "data-unbundled-magnet") != m.ID || !strings.HasPrefix(attr(snippet, "data-unbundled-src"), "https://signup.example.com/forms/") {
					t.Errorf("%s: snippet lacks the script's hooks", m.ID)
				}
			}
		})
	}
}

// landingFormOf is magnetID's form on the demo landing page.
func landingFormOf(t *testing.T, e *env, magnetID string) *html.Node {
	t.Helper()
	w := httptest.NewRecorder()
	e.srv.LandingPage(w, httptest.NewRequest("GET", "/", nil))
	doc, err := html.Parse(strings.NewReader(w.Body.String()))
	if err != nil {
		t.Fatal(err)
	}
	for n := range doc.Descendants() {
		if n.Type == html.ElementNode && n.Data == "form" && formMagnet(n) == magnetID {
			return n
		}
	}
	t.Fatalf("no landing-page form for %s", magnetID)
	return nil
}

// formShape lists what a form shows and sends: each input (name, type,
// value, checked; the stamp's value left out), each label's text and the
// button's.
func formShape(f *html.Node) []string {
	var shape []string
	for n := range f.Descendants() {
		if n.Type != html.ElementNode {
			continue
		}
		switch n.Data {
		case "input":
			value := attr(n, "value")
			if attr(n, "name") == "form_stamp" {
				value = "(stamp)"
			}
			_, checked := attrOK(n, "checked")
			shape = append(shape, "input "+attr(n, "name")+" "+attr(n, "type")+" "+value+map[bool]string{true: " checked"}[checked])
		case "label", "button", "legend":
			shape = append(shape, n.Data+" "+strings.Join(strings.Fields(textOf(n)), " "))
		}
	}
	return shape
}

// Each form of the snippet: boxes start unticked, extra boxes carry their
// wording, and a magnet that asks has the subscriber fields.
func TestSnippetRendersExtraBoxesAndSubscriberFields(t *testing.T) {
	e := newEnv(t, withExtraBoxes(t))
	_, f := snippetForm(t, e, snippetMagnet)
	boxes := inputs(f)["purpose"]
	if len(boxes) != 2 {
		t.Fatalf("got %d extra boxes, want 2", len(boxes))
	}
	for _, b := range boxes {
		if _, ticked := attrOK(b, "checked"); ticked || attr(b, "type") != "checkbox" {
			t.Errorf("extra box %s: type %q, ticked %v; want an unticked checkbox", attr(b, "value"), attr(b, "type"), ticked)
		}
	}
	if got := wordingOf(t, f, "purpose-"+snippetMagnet+"-books-r-us"); got != partnerWording {
		t.Errorf("partner box wording: got %q, want %q", got, partnerWording)
	}
	if got := textOf(f); !strings.Contains(got, "Who will email you if you tick this box: Books R Us Ltd") || !strings.Contains(got, "(the boxes are optional)") {
		t.Errorf("snippet does not name the partner or say the boxes are optional:\n%s", got)
	}

	e = newEnv(t, withAskingMagnet(t))
	_, asking := snippetForm(t, e, askingMagnet)
	in := inputs(asking)
	for _, name := range []string{"subscriber_type", "organisation", "role", "company_number", "org_kind"} {
		if len(in[name]) == 0 {
			t.Errorf("asking magnet's snippet lacks %s", name)
		}
	}
	if _, plain := snippetForm(t, e, plainMagnet); inputs(plain)["subscriber_type"] != nil {
		t.Errorf("the snippet of a magnet that does not ask has subscriber fields")
	}
}

// The snippet's stamp is fresh and for its magnet, and the form says when
// it expires.
func TestSnippetStamp(t *testing.T) {
	e := newEnv(t)
	raw, f := snippetForm(t, e, snippetMagnet)
	stamp := inputs(f)["form_stamp"]
	if len(stamp) != 1 {
		t.Fatalf("got %d form_stamp fields, want 1", len(stamp))
	}
	c, err := e.svc.Keys.Signing.Verify("form-stamp", attr(stamp[0], "value"), time.Now())
	if err != nil || c.Scope != snippetMagnet {
		t.Fatalf("stamp: claims %+v, error %v; want a form stamp for %s", c, err, snippetMagnet)
	}
	expires, err := time.Parse(time.RFC3339, attr(f, "data-unbundled-expires"))
	if err != nil || expires.Sub(c.Expires).Abs() > time.Second {
		t.Errorf("data-unbundled-expires %q, want the stamp's expiry %v", attr(f, "data-unbundled-expires"), c.Expires)
	}
	if !strings.HasPrefix(raw, "<!-- unbundled sign-up form for magnet uk-gdpr-checklist") || !strings.Contains(raw, "fetch this form again at least weekly") {
		t.Errorf("snippet does not start with the note for whoever pastes it:\n%s", raw)
	}
	if got := e.do(t, "GET", "/forms/"+snippetMagnet, "", "").Header().Get("Cache-Control"); got != "no-store" {
		t.Errorf("Cache-Control: got %q, want no-store (the stamp is fresh)", got)
	}
}

// The form and its script may be read cross-origin only by the sites the
// magnet allows.
func TestFormsCORS(t *testing.T) {
	tests := []struct {
		name, origin string
		want         string
	}{
		{"allowed site", landingOrigin, landingOrigin},
		{"site of another magnet", "https://other.example", ""},
		{"unknown site", "https://evil.example", ""},
		{"null origin", "null", ""},
		{"no origin", "", ""},
	}
	e := newEnv(t, withSnippetMagnet(t))
	for _, tt := range tests {
		for _, path := range []string{"/forms/" + snippetMagnet, "/forms/" + snippetMagnet + ".js"} {
			t.Run(tt.name+" "+path, func(t *testing.T) {
				var headers []string
				if tt.origin != "" {
					headers = []string{"Origin", tt.origin}
				}
				w := e.do(t, "GET", path, "", "", headers...)
				if w.Code != http.StatusOK {
					t.Fatalf("status %d", w.Code)
				}
				if got := w.Header().Get("Access-Control-Allow-Origin"); got != tt.want {
					t.Errorf("Access-Control-Allow-Origin: got %q, want %q", got, tt.want)
				}
				if got := w.Header().Values("Vary"); !slices.Contains(got, "Origin") {
					t.Errorf("Vary: got %q, want Origin", got)
				}
				if w.Header().Get("Access-Control-Allow-Credentials") != "" {
					t.Errorf("credentials allowed")
				}
			})
		}
	}
}

func TestFormsOfNoMagnet(t *testing.T) {
	tests := []struct {
		path string
		want int
	}{
		{"/forms/nope", http.StatusNotFound},
		{"/forms/nope.js", http.StatusNotFound},
		{"/forms/Not_An_ID", http.StatusBadRequest},
		{"/forms/" + url.PathEscape("<script>"), http.StatusBadRequest},
		{"/forms/.js", http.StatusBadRequest},
		{"/forms/uk-gdpr-checklist.js.js", http.StatusBadRequest},
	}
	e := newEnv(t)
	for _, tt := range tests {
		w := e.do(t, "GET", tt.path, "", "", "Origin", "http://127.0.0.1:8080")
		if w.Code != tt.want || w.Header().Get("Access-Control-Allow-Origin") != "" {
			t.Errorf("GET %s: %d, Access-Control-Allow-Origin %q; want %d and none", tt.path, w.Code, w.Header().Get("Access-Control-Allow-Origin"), tt.want)
		}
		if strings.Contains(w.Body.String(), "<") || w.Header().Get("Content-Type") != "text/plain; charset=utf-8" {
			t.Errorf("GET %s: %q %q, want one line of plain text", tt.path, w.Header().Get("Content-Type"), w.Body)
		}
	}
	if e.store.Writes() != 0 {
		t.Errorf("GET /forms/… wrote to the store")
	}
}

var (
	// scriptNetworkAPIs are the ways a script could reach another server
	// or keep something on the visitor's device.
	scriptNetworkAPIs = regexp.MustCompile(`(?i)cookie|localStorage|sessionStorage|indexedDB|caches\.|sendBeacon|XMLHttpRequest|WebSocket|EventSource|importScripts|import\(|\.src\s*=|new Image|createElement\("(?:script|img|iframe|link)"\)|innerHTML|outerHTML|insertAdjacentHTML|document\.write|eval\(|new Function|setTimeout\("`)
	scriptFetch       = regexp.MustCompile(`\bfetch\(([^,)]*)`)
)

// The script talks to nobody but the API its form names, stores nothing
// and builds no markup from text.
func TestFormScript(t *testing.T) {
	e := newEnv(t)
	w := e.do(t, "GET", "/forms/"+snippetMagnet+".js", "", "")
	if w.Code != http.StatusOK || w.Header().Get("Content-Type") != "text/javascript; charset=utf-8" {
		t.Fatalf("GET the script: %d %q", w.Code, w.Header().Get("Content-Type"))
	}
	js := w.Body.String()
	if !strings.Contains(js, `var magnet = "`+snippetMagnet+`";`) || strings.Contains(js, "__MAGNET__") {
		t.Errorf("script is not for %s", snippetMagnet)
	}
	code := stripJSComments(js)
	if found := scriptNetworkAPIs.FindAllString(code, -1); len(found) > 0 {
		t.Errorf("script uses %q", found)
	}
	var targets []string
	for _, m := range scriptFetch.FindAllStringSubmatch(code, -1) {
		targets = append(targets, m[1])
	}
	if want := []string{"src", "form.action"}; !slices.Equal(targets, want) {
		t.Errorf("script fetches %q, want only the form's own URL and action %q", targets, want)
	}
	if strings.Contains(code, "://") {
		t.Errorf("script names a URL of its own")
	}
	if got := w.Header().Get("Set-Cookie"); got != "" {
		t.Errorf("Set-Cookie: %q", got)
	}
}

// stripJSComments drops // line comments (the script has no /* */ ones
// and no "//" inside strings).
func stripJSComments(js string) string {
	var b strings.Builder
	for line := range strings.Lines(js) {
		if i := strings.Index(line, "//"); i >= 0 {
			line = line[:i] + "\n"
		}
		b.WriteString(line)
	}
	return b.String()
}

// The sample wording already says "I can unsubscribe at any time": the form
// does not say it a second time.
func TestFormSaysUnsubscribeOnce(t *testing.T) {
	e := newEnv(t)
	w := httptest.NewRecorder()
	e.srv.LandingPage(w, httptest.NewRequest("GET", "/", nil))
	page := w.Body.String()
	if n := strings.Count(strings.ToLower(page), "unsubscribe at any time"); n != 1 {
		t.Errorf("the landing page says \"unsubscribe at any time\" %d times, want once", n)
	}
}
