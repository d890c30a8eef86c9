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

// askingMagnet asks who people sign up as; plainMagnet (the sample magnet)
// does not.
const (
	askingMagnet = "b2b-guide"
	plainMagnet  = "uk-gdpr-checklist"
)

// withAskingMagnet adds askingMagnet, a copy of the sample magnet with
// ask_subscriber_type on, to the catalog of the server and its service.
func withAskingMagnet(t *testing.T) func(*web.Server) {
	t.Helper()
	var file struct{ Magnets []magnet.Magnet }
	if err := json.Unmarshal(consenttest.SampleCatalog, &file); err != nil {
		t.Fatal(err)
	}
	asking := file.Magnets[0]
	asking.ID, asking.Title, asking.AskSubscriberType = askingMagnet, "The B2B Guide", true
	data, err := json.Marshal(map[string]any{"magnets": append(file.Magnets, asking)})
	if err != nil {
		t.Fatal(err)
	}
	catalog, err := magnet.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	return func(s *web.Server) { s.Catalog, s.Service.Catalog = catalog, catalog }
}

// signupEvent is the signup event of address's ledger.
func (e *env) signupEvent(t *testing.T, address string) consent.Event {
	t.Helper()
	events := e.ledger(t, address)
	if len(events) == 0 || events[0].Type != consent.EventSignup {
		t.Fatalf("ledger of %s: got %s, want a signup first", address, eventTypes(events))
	}
	return events[0]
}

func eventTypes(events []consent.Event) string {
	var s []string
	for _, ev := range events {
		s = append(s, string(ev.Type))
	}
	return strings.Join(s, ",")
}

var acmeRecorded = consent.Organisation{Name: "Smith & Jones (UK) Ltd", Role: "Head of IT", Number: "SC012345", Kind: consent.OrgRegistered}

func TestSignupCompanyFormAndJSON(t *testing.T) {
	tests := []struct {
		name, contentType, body string
		wantStatus              int
		wantOrg                 consent.Organisation
	}{
		{"form", form, url.Values{
			"email": {"ann@acme.example"}, "magnet": {askingMagnet}, "marketing_consent": {"yes"},
			"subscriber_type": {"company"}, "organisation": {" Smith & Jones (UK) Ltd "}, "role": {"Head of IT"},
			"company_number": {"sc 012345"},
		}.Encode(), http.StatusSeeOther, acmeRecorded},
		{"multipart form", "multipart/form-data; boundary=XX", multipart(
			"email", "ann@acme.example", "magnet", askingMagnet, "marketing_consent", "yes", "subscriber_type", "company",
			"organisation", "Smith & Jones (UK) Ltd", "role", "Head of IT", "company_number", "SC012345", "org_kind", "registered",
		), http.StatusSeeOther, acmeRecorded},
		{"JSON", "application/json", `{"email":"ann@acme.example","magnet":"` + askingMagnet + `","marketing_consent":true,` +
			`"subscriber_type":"company","organisation":"Smith & Jones (UK) Ltd","role":"Head of IT","company_number":"SC012345"}`,
			http.StatusAccepted, acmeRecorded},
		{"JSON public body", "application/json", `{"email":"ann@acme.example","magnet":"` + askingMagnet + `","marketing_consent":true,` +
			`"subscriber_type":"company","organisation":"Cyngor Sir Ynys Môn","role":"Procurement officer","org_kind":"public_body"}`,
			http.StatusAccepted, consent.Organisation{Name: "Cyngor Sir Ynys Môn", Role: "Procurement officer", Kind: consent.OrgPublicBody}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, withAskingMagnet(t))
			w := e.do(t, "POST", "/signup", tt.contentType, tt.body)
			if w.Code != tt.wantStatus {
				t.Fatalf("status: got %d, want %d (%s)", w.Code, tt.wantStatus, w.Body)
			}
			s := e.signupEvent(t, "ann@acme.example")
			if s.SubscriberType != consent.SubscriberCompany || s.Organisation != tt.wantOrg {
				t.Errorf("signup event: got %q %+v, want company %+v", s.SubscriberType, s.Organisation, tt.wantOrg)
			}
			if !consent.MarketingStatus(e.ledger(t, "ann@acme.example"), consenttest.SamplePurpose).Consented() {
				t.Errorf("ticked box: want consent recorded")
			}
		})
	}
}

// subscriberLabels are the labels the form gives the subscriber fields: an
// error page names a field by its label, not its key.
var subscriberLabels = map[string]string{
	"subscriber_type": "You are signing up as", "organisation": "Organisation name", "role": "Your role there",
	"company_number": "Companies House number", "org_kind": "Public body",
}

// Bad or ambiguous subscriber fields get 400 naming the field, and nothing
// is stored or sent — on a magnet that does not ask, any of them sent with
// a value.
func TestSignupRefusesSubscriberFields(t *testing.T) {
	const asking = `"email":"ann@example.com","magnet":"` + askingMagnet + `"`
	const plain = `"email":"ann@example.com","magnet":"` + plainMagnet + `"`
	const company = `,"subscriber_type":"company","organisation":"Acme Ltd","role":"CEO"`
	tests := []struct {
		name, target, contentType, body string
		wantField                       string
	}{
		// A magnet that does not ask.
		{"plain: form type", "/signup", form, "email=ann%40example.com&magnet=" + plainMagnet + "&subscriber_type=company", "subscriber_type"},
		{"plain: form individual", "/signup", form, "email=ann%40example.com&magnet=" + plainMagnet + "&subscriber_type=individual", "subscriber_type"},
		{"plain: form organisation", "/signup", form, "email=ann%40example.com&magnet=" + plainMagnet + "&organisation=Acme", "organisation"},
		{"plain: form role", "/signup", form, "email=ann%40example.com&magnet=" + plainMagnet + "&role=CEO", "role"},
		{"plain: form number", "/signup", form, "email=ann%40example.com&magnet=" + plainMagnet + "&company_number=01234567", "company_number"},
		{"plain: form org kind", "/signup", form, "email=ann%40example.com&magnet=" + plainMagnet + "&org_kind=public_body", "org_kind"},
		{"plain: JSON type", "/signup", "application/json", `{` + plain + `,"subscriber_type":"company"}`, "subscriber_type"},
		{"plain: JSON company", "/signup", "application/json", `{` + plain + company + `,"company_number":"01234567"}`, "company_number"},

		// Bad values on a magnet that asks.
		{"unknown type", "/signup", "application/json", `{` + asking + `,"subscriber_type":"corporate"}`, "subscriber_type"},
		{"company without a number", "/signup", "application/json", `{` + asking + company + `}`, "company_number"},
		{"bad number", "/signup", "application/json", `{` + asking + company + `,"company_number":"XX123456"}`, "company_number"},
		{"company without a role", "/signup", form, "email=ann%40example.com&magnet=" + askingMagnet + "&subscriber_type=company&organisation=Acme&company_number=01234567", "role"},
		{"URL as organisation", "/signup", form, "email=ann%40example.com&magnet=" + askingMagnet + "&subscriber_type=company&organisation=acme.example&role=CEO&company_number=01234567", "organisation"},
		{"individual with a number", "/signup", form, "email=ann%40example.com&magnet=" + askingMagnet + "&subscriber_type=individual&company_number=01234567", "company_number"},

		// Ambiguous.
		{"form type twice", "/signup", form, "email=ann%40example.com&magnet=" + askingMagnet + "&subscriber_type=individual&subscriber_type=company", "subscriber_type"},
		{"form number twice", "/signup", form, "email=ann%40example.com&magnet=" + askingMagnet + "&company_number=01234567&company_number=SC123456", "company_number"},
		{"form type in the URL", "/signup?subscriber_type=company", form, "email=ann%40example.com&magnet=" + askingMagnet, "subscriber_type"},
		{"JSON org kind in the URL", "/signup?org_kind=public_body", "application/json", `{` + asking + `}`, "org_kind"},
		{"JSON duplicate type", "/signup", "application/json", `{` + asking + `,"subscriber_type":"individual","subscriber_type":"company"}`, "subscriber_type"},
		{"JSON name in other case", "/signup", "application/json", `{` + asking + `,"Subscriber_Type":"company"}`, "Subscriber_Type"},
		{"JSON other spelling", "/signup", "application/json", `{` + asking + `,"organization":"Acme"}`, "organization"},
		{"JSON number as a number", "/signup", "application/json", `{` + asking + company + `,"company_number":1234567}`, "company_number"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, withAskingMagnet(t))
			w := e.do(t, "POST", tt.target, tt.contentType, tt.body)
			if w.Code != http.StatusBadRequest {
				t.Fatalf("status: got %d, want 400 (%s)", w.Code, w.Body)
			}
			if tt.contentType == "application/json" {
				var got struct{ Errors map[string]string }
				if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil || got.Errors[tt.wantField] == "" {
					t.Errorf("body %s: want errors.%s", w.Body, tt.wantField)
				}
			} else if label := subscriberLabels[tt.wantField]; !strings.Contains(w.Body.String(), label) {
				t.Errorf("page does not name %s as %q: %s", tt.wantField, label, w.Body)
			}
			if e.store.Writes() != 0 || len(e.mailer.Sent()) != 0 {
				t.Errorf("got %d writes and %d mails, want none", e.store.Writes(), len(e.mailer.Sent()))
			}
		})
	}
}

// The landing page asks only on a magnet that asks: a fieldset with a
// legend, radio buttons defaulting to individual, and labelled
// organisation inputs that say when to fill them — no script needed.
func TestLandingPageAsksSubscriberType(t *testing.T) {
	e := newEnv(t, withAskingMagnet(t))
	w := httptest.NewRecorder()
	e.srv.LandingPage(w, httptest.NewRequest("GET", "/", nil))
	doc, err := html.Parse(strings.NewReader(w.Body.String()))
	if err != nil {
		t.Fatal(err)
	}
	forms := map[string]*html.Node{}
	for n := range doc.Descendants() {
		if n.Type == html.ElementNode && n.Data == "form" {
			forms[formMagnet(n)] = n
		}
	}
	if len(forms) != 2 {
		t.Fatalf("got forms for %d magnets, want 2:\n%s", len(forms), w.Body)
	}
	if in := inputs(forms[plainMagnet]); in["subscriber_type"] != nil || in["organisation"] != nil {
		t.Errorf("the form of a magnet that does not ask has subscriber fields")
	}

	f := forms[askingMagnet]
	labels := map[string]string{} // for -> text
	var legend string
	for n := range f.Descendants() {
		switch {
		case n.Type == html.ElementNode && n.Data == "label":
			labels[attr(n, "for")] = textOf(n)
		case n.Type == html.ElementNode && n.Data == "legend":
			legend = textOf(n)
		}
	}
	if legend == "" {
		t.Errorf("no fieldset legend for the subscriber type")
	}
	radios := map[string]bool{} // value -> checked
	for _, n := range inputs(f)["subscriber_type"] {
		if attr(n, "type") != "radio" {
			t.Errorf("subscriber_type input of type %q, want radio", attr(n, "type"))
		}
		_, checked := attrOK(n, "checked")
		radios[attr(n, "value")] = checked
	}
	want := map[string]bool{"individual": true, "sole_trader": false, "partnership": false, "company": false}
	if len(radios) != len(want) {
		t.Errorf("radios: got %v, want %v", radios, want)
	}
	for v, checked := range want {
		if got, ok := radios[v]; !ok || got != checked {
			t.Errorf("radio %s: present %v, checked %v; want present, checked %v", v, ok, got, checked)
		}
	}
	for name, nodes := range inputs(f) {
		for _, n := range nodes {
			if attr(n, "type") == "hidden" || name == "website" {
				continue
			}
			if labels[attr(n, "id")] == "" {
				t.Errorf("input %s (id %q) has no label", name, attr(n, "id"))
			}
		}
	}
	for _, name := range []string{"organisation", "role", "company_number", "org_kind"} {
		if len(inputs(f)[name]) != 1 {
			t.Errorf("input %s: got %d, want 1", name, len(inputs(f)[name]))
		}
	}
	if !strings.Contains(textOf(f), "Only if you sign up for a company, LLP or public body") {
		t.Errorf("the form does not say when to fill in the organisation")
	}

	// Posted as it stands (a person who only gives an address): an
	// individual, whatever the empty organisation fields.
	body := defaultPost(f)
	body.Set("email", "ann@example.com")
	if w := e.do(t, "POST", "/signup", form, body.Encode()); w.Code != http.StatusSeeOther {
		t.Fatalf("default form: got %d, want 303 (%s)", w.Code, w.Body)
	}
	if s := e.signupEvent(t, "ann@example.com"); s.SubscriberType != consent.SubscriberIndividual || s.Organisation != (consent.Organisation{}) {
		t.Errorf("default form: recorded %q %+v, want an individual and no organisation", s.SubscriberType, s.Organisation)
	}
	// Filled in for a company.
	body = defaultPost(f)
	body.Set("email", "bob@acme.example")
	body.Set("subscriber_type", "company")
	body.Set("organisation", "Smith & Jones (UK) Ltd")
	body.Set("role", "Head of IT")
	body.Set("company_number", "SC012345")
	if w := e.do(t, "POST", "/signup", form, body.Encode()); w.Code != http.StatusSeeOther {
		t.Fatalf("company form: got %d, want 303 (%s)", w.Code, w.Body)
	}
	if s := e.signupEvent(t, "bob@acme.example"); s.SubscriberType != consent.SubscriberCompany || s.Organisation != acmeRecorded {
		t.Errorf("company form: recorded %q %+v, want company %+v", s.SubscriberType, s.Organisation, acmeRecorded)
	}
}

func formMagnet(f *html.Node) string {
	for _, n := range inputs(f)["magnet"] {
		return attr(n, "value")
	}
	return ""
}

// inputs are the input elements of f by name.
func inputs(f *html.Node) map[string][]*html.Node {
	in := map[string][]*html.Node{}
	if f == nil {
		return in
	}
	for n := range f.Descendants() {
		if n.Type == html.ElementNode && n.Data == "input" {
			in[attr(n, "name")] = append(in[attr(n, "name")], n)
		}
	}
	return in
}

// defaultPost is what a browser posts for f untouched: every text field
// (empty unless it has a value), checked radios and checkboxes only.
func defaultPost(f *html.Node) url.Values {
	v := url.Values{}
	for name, nodes := range inputs(f) {
		for _, n := range nodes {
			_, checked := attrOK(n, "checked")
			switch attr(n, "type") {
			case "radio", "checkbox":
				if checked {
					v.Add(name, attr(n, "value"))
				}
			default:
				v.Add(name, attr(n, "value"))
			}
		}
	}
	return v
}

func attr(n *html.Node, key string) string {
	v, _ := attrOK(n, key)
	return v
}

func attrOK(n *html.Node, key string) (string, bool) {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val, true
		}
	}
	return "", false
}
