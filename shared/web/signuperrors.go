package web

import (
	"html/template"
	"net/http"
	"slices"
	"strings"

	"github.com/unbundled/unbundled/shared/consent"
	"github.com/unbundled/unbundled/shared/magnet"
)

// A sign-up form that fails validation is shown again, for people: the
// magnet's form as the landing page renders it, filled with what the
// visitor sent, a message under each field at fault, a summary at the top
// naming fields by their labels, fresh bot traps (trap.go) and a link back
// to the page the form came from. JSON clients get {"errors": …} as before.

// fieldOrder is the order the sign-up form shows its fields in; problems
// lists messages in this order, then any other field by key.
var fieldOrder = []string{"magnet", "email", "name", "subscriber_type", "organisation", "role",
	"company_number", "org_kind", "marketing_consent", "purposes", "purpose", "consent_version", "idempotency_key", "body"}

// fieldLabels names a form field for people, as the form labels it.
var fieldLabels = map[string]string{
	"magnet":            "Download",
	"email":             "Email address",
	"name":              "First name",
	"subscriber_type":   "You are signing up as",
	"organisation":      "Organisation name",
	"role":              "Your role there",
	"company_number":    "Companies House number",
	"org_kind":          "Public body",
	"marketing_consent": "The box for our emails",
	"purposes":          "The boxes you ticked",
	"purpose":           "The boxes you ticked",
	"request":           "What you want",
	"confirm":           "The button",
}

// fieldLabel names field for people; a field the form does not show (the
// wording version, the body, a header) is "The form".
func fieldLabel(field string) string {
	if label, ok := fieldLabels[field]; ok {
		return label
	}
	return "The form"
}

// fieldProblem is one field's message, for people.
type fieldProblem struct {
	Field   string // the form field's key
	Label   string // its label ("Email address")
	Message string
	// Anchor is the id of the input to fix on a re-shown form, or "".
	Anchor string
}

// problems lists fields' messages in form order, each with its label.
func problems(fields map[string]string) []fieldProblem {
	keys := make([]string, 0, len(fields))
	for k := range fields {
		keys = append(keys, k)
	}
	rank := func(k string) int {
		if i := slices.Index(fieldOrder, k); i >= 0 {
			return i
		}
		return len(fieldOrder)
	}
	slices.SortFunc(keys, func(a, b string) int {
		if ra, rb := rank(a), rank(b); ra != rb {
			return ra - rb
		}
		return strings.Compare(a, b)
	})
	out := make([]fieldProblem, 0, len(keys))
	for _, k := range keys {
		out = append(out, fieldProblem{Field: k, Label: fieldLabel(k), Message: fields[k]})
	}
	return out
}

// signupValues is what a visitor sent on a sign-up form, to fill it in
// again.
type signupValues struct {
	Email, Name                                       string
	SubscriberType, Organisation, Role, CompanyNumber string
	OrgKind                                           string
	// Consent: the marketing box was ticked (with a value that means yes).
	Consent  bool
	Purposes []string // the extra boxes ticked
}

// Ticked reports whether the extra purpose id's box was ticked.
func (v signupValues) Ticked(id string) bool { return slices.Contains(v.Purposes, id) }

// Type is the subscriber type to show selected: the one sent, or
// "individual", the default.
func (v signupValues) Type() string {
	if v.SubscriberType == "" {
		return consent.SubscriberIndividual
	}
	return v.SubscriberType
}

// anchor is the id of the input a field's message points to on m's form
// (templates/forms/signup_form.html), or "".
func anchor(field string, m magnet.Magnet) string {
	switch field {
	case "email", "name", "organisation", "role":
		return field + "-" + m.ID
	case "company_number":
		return "company-number-" + m.ID
	case "subscriber_type":
		return "type-individual-" + m.ID
	case "org_kind":
		return "public-body-" + m.ID
	case "marketing_consent":
		return "consent-" + m.ID
	case "purposes", "purpose":
		if len(m.ExtraPurposes) > 0 {
			return "purpose-" + m.ID + "-" + m.ExtraPurposes[0].ID
		}
		return "consent-" + m.ID
	}
	return ""
}

// reshowSignup answers a sign-up form for m that failed validation with
// 400 and the form again (see above), on the landing page's template: the
// same form (with a fresh stamp and wording version), one magnet, and the
// summary and back link in place of the demo's introduction.
func (s *Server) reshowSignup(w http.ResponseWriter, r *http.Request, m magnet.Magnet, in signupForm, fields map[string]string) {
	data, err := s.formFor(r, m, s.link(r, "/signup"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	req := in.SignupRequest
	data.Values = signupValues{
		Email: req.Email, Name: req.Name, SubscriberType: req.SubscriberType,
		Organisation: req.Organisation.Name, Role: req.Organisation.Role, CompanyNumber: req.Organisation.Number,
		OrgKind: req.Organisation.Kind, Consent: req.Consent, Purposes: req.Purposes,
	}
	data.Errors = fields
	form, err := renderForm("signup_form", data)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	style, err := formStyle()
	if err != nil {
		s.fail(w, r, err)
		return
	}
	list := problems(fields)
	for i := range list {
		list[i].Anchor = anchor(list[i].Field, m)
	}
	back, backText := s.signupBack(r, m)
	shown := struct {
		magnet.Magnet
		Form template.HTML
	}{m, form}
	s.render(w, r, http.StatusBadRequest, "landing", map[string]any{
		"Magnets": []any{shown}, "FormStyle": style,
		"Problems": list, "Back": back, "BackText": backText,
	})
}

// signupBack is where a visitor whose sign-up failed can go back to: the
// page the form was on, if the browser said and it is ours or one m
// allows (not our own re-shown form), else the first site m allows, else
// nowhere ("").
func (s *Server) signupBack(r *http.Request, m magnet.Magnet) (link, text string) {
	if page := pageURL(r); page != "" && page != s.link(r, "/signup") {
		if origin := refererOrigin(page); strings.EqualFold(origin, s.ownOrigin(r)) || m.AllowsOrigin(origin) {
			return page, "Back to the page you came from"
		}
	}
	if len(m.AllowedOrigins) > 0 {
		site := m.AllowedOrigins[0]
		return site, "Back to " + strings.TrimPrefix(strings.TrimPrefix(site, "https://"), "http://")
	}
	return "", ""
}
