package web

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/unbundled/unbundled/shared/consent"
	"github.com/unbundled/unbundled/shared/magnet"
)

// The sign-up form, generated from the live configuration.
//
// GET /forms/<magnet> answers an HTML fragment to paste into any landing
// page (or include server-side on every render): the form the demo landing
// page shows, rendered by the same template (templates/forms), with an
// absolute action, a small overridable <style> and nothing loaded from
// elsewhere. It carries the wording version it was rendered with
// (consent_version) and the bot traps of trap.go; its form stamp expires
// stampLifetime after it was fetched, so a pasted copy must be fetched again
// within that time (or have its form_stamp line removed, which gives up the
// time trap).
//
// GET /forms/<magnet>.js is an optional script (static/forms.js) that
// refreshes the stamp on every page view, posts with fetch and shows the
// thank-you message in place of the form. Pages of this service never load
// it: their Content-Security-Policy allows no scripts.
//
// Both answer CORS reads only from the magnet's allowed_origins. A name
// that cannot be a magnet id gets 400, a magnet that is not configured 404,
// both as one line of plain text (a fragment may be included in a page as
// is). Neither writes anything.

// snippetScriptSuffix ends the path of a form's script: /forms/<magnet>.js.
const snippetScriptSuffix = ".js"

// magnetIDPattern is the magnet id rule (see magnet.Parse).
var magnetIDPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)

// scriptMagnetPlaceholder is replaced, in static/forms.js, by the magnet's
// id as a JavaScript string.
const scriptMagnetPlaceholder = `"__MAGNET__"`

var (
	//go:embed templates/forms/*.html
	formTemplateFS embed.FS
	formTemplates  = template.Must(template.New("forms").Funcs(pageFuncs).ParseFS(formTemplateFS, "templates/forms/*.html"))

	//go:embed static/forms.js
	formScript string
)

// formData is what templates/forms/signup_form.html renders: one magnet's
// sign-up form.
type formData struct {
	magnet.Magnet
	Action  string // where the form posts
	Version string // the wording version of the main box, as consent_version
	Trap    template.HTML
	Notice  noticeLink
	// PrivacyPolicy is the magnet's privacy policy link, absolute.
	PrivacyPolicy string
	// Snippet marks the pasteable form: it names its magnet, where to fetch
	// it again (Source) and when its stamp expires (StampExpires) for the
	// script, and has a status line for the script's messages.
	Snippet      bool
	Source       string
	StampExpires string
	// Comment is the note at the top of the snippet for whoever pastes it.
	Comment template.HTML
	// Values and Errors fill the form in again after a sign-up that
	// failed validation (signuperrors.go): what the visitor sent, and a
	// message per field key. Zero on a fresh form.
	Values signupValues
	Errors map[string]string
}

// formFor returns the form data of m's sign-up form posting to action,
// stamped now.
func (s *Server) formFor(r *http.Request, m magnet.Magnet, action string) (formData, error) {
	trap, err := s.trapFields(m.ID)
	if err != nil {
		return formData{}, err
	}
	policy := m.PrivacyPolicyURL
	if strings.HasPrefix(policy, "/") {
		policy = s.link(r, policy)
	}
	return formData{
		Magnet: m, Action: action, Version: consent.NewWordingVersion(m).ID, Trap: trap,
		Notice: s.noticeLinkFor(r, m), PrivacyPolicy: policy,
	}, nil
}

// renderForm renders template name of templates/forms with data.
func renderForm(name string, data any) (template.HTML, error) {
	var buf bytes.Buffer
	if err := formTemplates.ExecuteTemplate(&buf, name, data); err != nil {
		return "", fmt.Errorf("render %s: %w", name, err)
	}
	return template.HTML(buf.String()), nil // escaped by formTemplates
}

// landingForm is m's form on the demo landing page: posting to this
// service's own /signup, without the snippet's script hooks.
func (s *Server) landingForm(r *http.Request, m magnet.Magnet) (template.HTML, error) {
	data, err := s.formFor(r, m, "/signup")
	if err != nil {
		return "", err
	}
	return renderForm("signup_form", data)
}

// formStyle is the form's style sheet, as a <style> element.
func formStyle() (template.HTML, error) { return renderForm("signup_form_style", nil) }

// forms serves GET /forms/{magnet}: the snippet, or with ".js" its script.
func (s *Server) forms(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("magnet")
	id, script := strings.CutSuffix(name, snippetScriptSuffix)
	m, known := s.Catalog.Get(id)
	h := w.Header()
	h.Add("Vary", "Origin")
	switch {
	case !magnetIDPattern.MatchString(id):
		formMissing(w, http.StatusBadRequest, "No sign-up form here: a magnet id is 1-63 characters of a-z, 0-9 and '-'.")
		return
	case !known:
		formMissing(w, http.StatusNotFound, "No sign-up form here: no magnet with this id is configured.")
		return
	}
	if origin := r.Header.Get("Origin"); origin != "" && m.AllowsOrigin(origin) {
		h.Set("Access-Control-Allow-Origin", origin)
	}
	if script {
		s.formScript(w, m)
		return
	}
	data, err := s.formFor(r, m, s.link(r, "/signup"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	now := s.Service.Now().UTC()
	expires := now.Add(stampLifetime).Truncate(time.Second)
	data.Snippet = true
	data.Source = s.link(r, "/forms/"+url.PathEscape(m.ID))
	data.StampExpires = expires.Format(time.RFC3339)
	data.Comment = snippetComment(m.ID, data.Version, now, expires)
	snippet, err := renderForm("signup_snippet", data)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	// The stamp inside is fresh: never cache it (Middleware says no-store).
	h.Set("Content-Type", "text/html; charset=utf-8")
	_, _ = w.Write([]byte(snippet))
}

// formMissing answers a request for a form there is none of.
func formMissing(w http.ResponseWriter, status int, message string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(status)
	_, _ = fmt.Fprintln(w, message)
}

// formScript answers m's script: static/forms.js for m's forms.
func (s *Server) formScript(w http.ResponseWriter, m magnet.Magnet) {
	id, err := json.Marshal(m.ID)
	if err != nil {
		panic(err) // a string always marshals
	}
	h := w.Header()
	h.Set("Content-Type", "text/javascript; charset=utf-8")
	// The script holds nothing that changes with the configuration but the
	// magnet's id: an hour's caching spares page loads.
	h.Set("Cache-Control", "public, max-age=3600")
	_, _ = w.Write([]byte(strings.Replace(formScript, scriptMagnetPlaceholder, string(id), 1)))
}

// snippetComment is the note at the top of a snippet for whoever pastes
// it. Only the magnet id (a-z, 0-9, '-'), a version id and times go in,
// with "--" broken up so nothing can end the comment early.
func snippetComment(magnetID, version string, rendered, expires time.Time) template.HTML {
	text := fmt.Sprintf("unbundled sign-up form for magnet %s (consent wording version %s), rendered %s from the live configuration. "+
		"Its form_stamp expires %s: fetch this form again at least weekly (or on every page render, or load the script "+
		"/forms/%s.js on the same page, which refreshes it on every page view), or remove the form_stamp line. Change the wording in the magnet configuration, not here: "+
		"the ledger records the configured wording.",
		magnetID, version, rendered.Format(time.RFC3339), expires.Format(time.RFC3339), magnetID)
	for strings.Contains(text, "--") {
		text = strings.ReplaceAll(text, "--", "- -")
	}
	return template.HTML("<!-- " + strings.NewReplacer("<", "", ">", "").Replace(text) + " -->") // inert: see above
}
