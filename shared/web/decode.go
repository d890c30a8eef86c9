package web

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	"github.com/unbundled/unbundled/shared/consent"
	"github.com/unbundled/unbundled/shared/magnet"
)

// Request bodies are read strictly: a body that one parser could read
// differently from another (a field twice, a field also in the URL, JSON
// names in another case, duplicate or unknown JSON names, anything after the
// JSON object) is refused with a *consent.ValidationError naming the field,
// rather than guessed at. Consent in particular must be given once, plainly.

// consentValues are the only checkbox values that mean "yes". Anything else,
// or no field at all, means consent was not given.
var consentValues = map[string]bool{"yes": true, "on": true, "true": true}

// signupFields are the fields a sign-up reads once, from a form or a JSON
// object.
var signupFields = []string{"email", "magnet", "name", "marketing_consent", "consent_version",
	"subscriber_type", "organisation", "role", "company_number", "org_kind", honeypotField, stampField}

// purposeField is the form field of an extra purpose's checkbox, repeated
// once per box ticked (its value the purpose's id); purposesField is the
// JSON member holding them, an array of strings.
const (
	purposeField  = "purpose"
	purposesField = "purposes"
)

// maxPurposeValue caps the length of one ticked extra purpose id (the
// magnet's id rule allows 63 bytes); a magnet has at most
// magnet.MaxExtraPurposes extra boxes.
const maxPurposeValue = 63

// signupJSON is the JSON sign-up body. Names match exactly; other names are
// refused.
type signupJSON struct {
	Email            string         `json:"email"`
	Magnet           string         `json:"magnet"`
	Name             string         `json:"name"`
	MarketingConsent jsontext.Value `json:"marketing_consent"`
	ConsentVersion   string         `json:"consent_version"`
	Website          string         `json:"website"`    // honeypotField
	FormStamp        string         `json:"form_stamp"` // stampField
	// The subscriber fields, only for magnets that ask (see
	// consent.CheckSubscriber).
	SubscriberType string `json:"subscriber_type"`
	Organisation   string `json:"organisation"`
	Role           string `json:"role"`
	CompanyNumber  string `json:"company_number"`
	OrgKind        string `json:"org_kind"`
	// Purposes are the extra purposes' boxes ticked (their ids).
	Purposes []string `json:"purposes"`
}

// signupForm is a decoded sign-up: the request for the service, and the trap
// fields of a form we rendered (see trap.go).
type signupForm struct {
	consent.SignupRequest
	Honeypot string
	Stamp    string
}

// maxFieldName caps a field name echoed back in an error message.
const maxFieldName = 64

// decodeSignup reads a sign-up from a form (urlencoded or multipart) or a
// JSON object. Errors: *consent.ValidationError naming the field (or "body")
// for anything unreadable, ambiguous or of another media type, and
// *http.MaxBytesError for a body over the limit.
func decodeSignup(r *http.Request, mediaType string) (signupForm, error) {
	switch mediaType {
	case "application/json":
		if err := notInQuery(r, slices.Concat(signupFields, []string{purposesField, purposeField})...); err != nil {
			return signupForm{}, err
		}
		return decodeSignupJSON(r.Body)
	case "application/x-www-form-urlencoded", "multipart/form-data":
		if err := parseForm(r, mediaType); err != nil {
			return signupForm{}, err
		}
		if err := singleValues(r, signupFields...); err != nil {
			return signupForm{}, err
		}
		if err := notInQuery(r, purposeField); err != nil {
			return signupForm{}, err
		}
		f := r.PostForm
		purposes := f[purposeField]
		if err := checkPurposeValues(purposes); err != nil {
			return signupForm{}, err
		}
		return signupForm{
			SignupRequest: consent.SignupRequest{
				Email: f.Get("email"), Magnet: f.Get("magnet"), Name: f.Get("name"),
				Consent: consentValues[f.Get("marketing_consent")], Purposes: purposes, Method: consent.MethodForm,
				WordingVersion: f.Get("consent_version"), SubscriberType: f.Get("subscriber_type"),
				Organisation: consent.Organisation{
					Name: f.Get("organisation"), Role: f.Get("role"), Number: f.Get("company_number"), Kind: f.Get("org_kind"),
				},
			},
			Honeypot: f.Get(honeypotField), Stamp: f.Get(stampField),
		}, nil
	default:
		return signupForm{}, invalid("body", "Send the form as application/x-www-form-urlencoded or application/json.")
	}
}

// decodeSignupJSON reads exactly one JSON object from body with
// go-json-experiment/json's defaults (exact names, no duplicate names, valid
// UTF-8, nothing after the value) plus unknown names refused.
func decodeSignupJSON(body io.Reader) (signupForm, error) {
	data, err := io.ReadAll(body)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return signupForm{}, err
		}
		return signupForm{}, invalid("body", "The request body could not be read.")
	}
	const wantObject = "Send one JSON object with email, magnet, name and marketing_consent, and nothing after it."
	if !bytes.HasPrefix(bytes.TrimLeft(data, " \t\r\n"), []byte("{")) {
		return signupForm{}, invalid("body", wantObject)
	}
	var in signupJSON
	if err := json.Unmarshal(data, &in, json.RejectUnknownMembers(true)); err != nil {
		return signupForm{}, jsonError(err, wantObject)
	}
	if err := checkPurposeValues(in.Purposes); err != nil {
		return signupForm{}, err
	}
	return signupForm{
		SignupRequest: consent.SignupRequest{
			Email: in.Email, Magnet: in.Magnet, Name: in.Name, Consent: jsonConsent(in.MarketingConsent), Purposes: in.Purposes,
			Method: consent.MethodJSON, WordingVersion: in.ConsentVersion, SubscriberType: in.SubscriberType,
			Organisation: consent.Organisation{Name: in.Organisation, Role: in.Role, Number: in.CompanyNumber, Kind: in.OrgKind},
		},
		Honeypot: in.Website, Stamp: in.FormStamp,
	}, nil
}

// jsonError turns a decoding error into a validation error naming the
// member at fault, or "body" with fallback.
func jsonError(err error, fallback string) error {
	var syn *jsontext.SyntacticError
	var sem *json.SemanticError
	switch {
	case errors.As(err, &syn) && errors.Is(syn.Err, jsontext.ErrDuplicateName):
		return invalid(fieldName(syn.JSONPointer.LastToken()), "This name appears more than once; send it once.")
	case errors.As(err, &sem) && errors.Is(sem.Err, json.ErrUnknownName):
		return invalid(fieldName(sem.JSONPointer.LastToken()), "Unknown name; send only email, magnet, name, marketing_consent, consent_version, purposes and, where the form asks who you sign up as, subscriber_type, organisation, role, company_number and org_kind, spelt exactly so.")
	case errors.As(err, &sem) && firstToken(sem.JSONPointer) == purposesField:
		return invalid(purposesField, "Send purposes as an array of strings: the ids of the extra boxes ticked.")
	case errors.As(err, &sem) && sem.JSONPointer != "":
		return invalid(fieldName(firstToken(sem.JSONPointer)), "Send this as a string.")
	default:
		return invalid("body", fallback)
	}
}

func firstToken(p jsontext.Pointer) string {
	for tok := range p.Tokens() {
		return tok
	}
	return ""
}

// fieldName shortens a client-chosen name before it is echoed back.
func fieldName(name string) string {
	if name == "" {
		return "body"
	}
	for i := range name {
		if i > maxFieldName {
			return name[:i] + "…"
		}
	}
	return name
}

// checkPurposeValues bounds the extra boxes a sign-up says were ticked
// before the service looks at them: at most magnet.MaxExtraPurposes values
// of at most maxPurposeValue bytes each. Which ids are valid is the
// service's to say (consent.SignupRequest.Purposes).
func checkPurposeValues(purposes []string) error {
	if len(purposes) > magnet.MaxExtraPurposes {
		return invalid(purposesField, fmt.Sprintf("Tick at most %d extra boxes.", magnet.MaxExtraPurposes))
	}
	for _, p := range purposes {
		if len(p) > maxPurposeValue {
			return invalid(purposesField, "One of the boxes you ticked is not on this form. Reload the page and send it again.")
		}
	}
	return nil
}

// jsonConsent accepts true or one of the consent strings; anything else
// (false, null, absent, other strings, numbers, arrays, objects) is no
// consent.
func jsonConsent(raw jsontext.Value) bool {
	var b bool
	if json.Unmarshal(raw, &b) == nil {
		return b
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return consentValues[s]
	}
	return false
}

// parseForm reads an urlencoded or multipart body into r.PostForm. A body
// that is not valid is a validation error, a body over the limit is 413.
// Values in the URL's query are never merged into r.PostForm; read fields
// from r.PostForm only, after singleValues.
func parseForm(r *http.Request, mediaType string) error {
	var err error
	if mediaType == "multipart/form-data" {
		err = r.ParseMultipartForm(maxBodyBytes)
	} else {
		err = r.ParseForm()
	}
	var tooBig *http.MaxBytesError
	if err != nil && !errors.As(err, &tooBig) {
		return invalid("body", "The form could not be read.")
	}
	return err
}

// singleValues checks that each named field was posted at most once, and
// not also put in the URL's query. Fields not named are not checked. The
// error is a *consent.ValidationError naming every field at fault.
func singleValues(r *http.Request, names ...string) error {
	fields := queryFields(r, names)
	for _, name := range names {
		if len(r.PostForm[name]) > 1 {
			fields[name] = fmt.Sprintf("The form sent %s more than once; send it once.", name)
		}
	}
	return fieldsError(fields)
}

// notInQuery refuses a POST that carries one of the named body fields in its
// URL: a field is read from the body only, and one that is in both places is
// ambiguous.
func notInQuery(r *http.Request, names ...string) error {
	return fieldsError(queryFields(r, names))
}

func queryFields(r *http.Request, names []string) map[string]string {
	fields := map[string]string{}
	if r.URL.RawQuery == "" {
		return fields
	}
	query := r.URL.Query()
	for _, name := range names {
		if query.Has(name) {
			fields[name] = fmt.Sprintf("%s was in the link; send it in the form only.", name)
		}
	}
	return fields
}

func fieldsError(fields map[string]string) error {
	if len(fields) == 0 {
		return nil
	}
	return &consent.ValidationError{Fields: fields}
}

func invalid(field, message string) error {
	return &consent.ValidationError{Fields: map[string]string{field: message}}
}
