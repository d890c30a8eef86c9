// Package magnet describes lead magnets — the free things a business gives in
// exchange for an email address — and loads them from a JSON catalog file.
//
// A magnet carries everything a sign-up form and the freebie email need,
// including the exact consent wording shown next to the (unticked) marketing
// checkbox. Parse validates every field and names the offending one.
package magnet

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/mail"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode"
)

// Magnet is one lead magnet and the context its consent is collected in.
type Magnet struct {
	ID          string `json:"id"`
	Title       string `json:"title"`
	Description string `json:"description"`
	// DownloadURL is where the freebie lives: an absolute http(s) URL, or a
	// path starting with "/" that is resolved against the public base URL.
	DownloadURL string `json:"download_url"`
	SenderName  string `json:"sender_name"`
	SenderEmail string `json:"sender_email"`
	ReplyTo     string `json:"reply_to"`
	// ConsentWording is shown verbatim next to the marketing checkbox and
	// recorded verbatim with every consent given through this magnet.
	ConsentWording   string `json:"consent_wording"`
	Frequency        string `json:"frequency"`
	PrivacyPolicyURL string `json:"privacy_policy_url"`
	// Controller identifies the business (name, address, contact) in email
	// footers and on the form: who is asking.
	Controller     string   `json:"controller"`
	AllowedOrigins []string `json:"allowed_origins"`
	// ThankYouURL is optional; without it form posts land on the built-in
	// thank-you page.
	ThankYouURL string `json:"thank_you_url,omitempty"`
	// DoubleOptIn (default true — data protection by default) makes ticked
	// consent count only after the person confirms by a link in the email.
	DoubleOptIn *bool `json:"double_opt_in,omitempty"`
	// ConfirmExpiryHours is how long a confirm link works (default 168, 7 days).
	ConfirmExpiryHours int `json:"confirm_expiry_hours,omitempty"`
	// ConsentReceipt (default true) emails a receipt of what was agreed once
	// consent is confirmed.
	ConsentReceipt *bool `json:"consent_receipt,omitempty"`
	// ReconfirmNewWording (default false) asks a person whose consent is
	// active to confirm again when they tick the box under new wording;
	// their earlier consent stands until they do. Only with double opt-in.
	ReconfirmNewWording bool `json:"reconfirm_new_wording,omitempty"`
	// AskSubscriberType (default false) makes the form ask who the person
	// signs up as — an individual, a sole trader, a partnership, or for a
	// company or public body (with its name, their role and its Companies
	// House number) — and records the answer with the sign-up. Without it
	// everyone is an individual and those fields are refused.
	AskSubscriberType bool `json:"ask_subscriber_type,omitempty"`
	// Purpose (optional) narrows what the checkbox asks for to one named
	// kind of marketing from the controller ("weekly SEO tips") instead of
	// all of it. Unsubscribing from its emails stops only that, unless the
	// person chooses "stop all marketing from <controller>".
	Purpose *Purpose `json:"purpose,omitempty"`
}

// DefaultConfirmExpiry is how long confirm links work unless configured.
const DefaultConfirmExpiry = 7 * 24 * time.Hour

// RequiresConfirmation reports whether consent needs double opt-in (default yes).
func (m Magnet) RequiresConfirmation() bool { return m.DoubleOptIn == nil || *m.DoubleOptIn }

// ReconfirmsNewWording reports whether a new wording version needs
// confirming again by someone whose consent is active.
func (m Magnet) ReconfirmsNewWording() bool { return m.RequiresConfirmation() && m.ReconfirmNewWording }

// PurposeID is the purpose the magnet's marketing checkbox asks consent
// for: by default marketing email from its controller, shared by every
// magnet of that controller — so one unsubscribe stops all of it. The id is
// "marketing:" and the controller's name (its text up to the first comma)
// as a slug ("Acme Ltd, 1 High St" → "marketing:acme-ltd");
// ControllerPurpose gives the same for any controller text.
//
// A magnet with a narrower Purpose asks for "<controller purpose>/<id>"
// ("marketing:acme-ltd/seo-tips"): a purpose of the same controller, so
// "stop all marketing from Acme" stops it too.
func (m Magnet) PurposeID() string {
	if m.Purpose != nil {
		return ControllerPurpose(m.Controller) + "/" + m.Purpose.ID
	}
	return ControllerPurpose(m.Controller)
}

// PurposeName says the purpose in words, for people.
func (m Magnet) PurposeName() string {
	if m.Purpose != nil {
		return m.Purpose.Name + " from " + ControllerName(m.Controller)
	}
	return "marketing email from " + ControllerName(m.Controller)
}

// Purpose is a narrower kind of marketing a magnet's checkbox asks for.
type Purpose struct {
	// ID is 1-63 characters of a-z, 0-9 and '-', unique within the
	// controller; Name says it for people ("weekly SEO tips").
	ID   string `json:"id"`
	Name string `json:"name"`
}

// WithinController reports whether purpose belongs to the controller whose
// controller-wide purpose is controllerPurpose: it is that purpose or a
// narrower one of it.
func WithinController(purpose, controllerPurpose string) bool {
	return purpose == controllerPurpose || strings.HasPrefix(purpose, controllerPurpose+"/")
}

// ControllerPurpose is the id of the controller-wide marketing purpose of
// the controller the text controller describes.
func ControllerPurpose(controller string) string {
	return "marketing:" + slug(ControllerName(controller))
}

// ControllerName is the controller's name: its description up to the first
// comma ("Acme Ltd, 1 High St, London" → "Acme Ltd").
func ControllerName(controller string) string {
	name, _, _ := strings.Cut(controller, ",")
	if name = strings.TrimSpace(name); name == "" {
		return strings.TrimSpace(controller)
	}
	return name
}

// slug lower-cases s and keeps runs of letters and digits, joined by '-'.
func slug(s string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(s) {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			b.WriteRune(r)
			dash = false
			continue
		}
		dash = true
	}
	return b.String()
}

// SendsReceipt reports whether a consent receipt is emailed (default yes).
func (m Magnet) SendsReceipt() bool { return m.ConsentReceipt == nil || *m.ConsentReceipt }

// ConfirmExpiry is how long a confirm link works.
func (m Magnet) ConfirmExpiry() time.Duration {
	if m.ConfirmExpiryHours == 0 {
		return DefaultConfirmExpiry
	}
	return time.Duration(m.ConfirmExpiryHours) * time.Hour
}

// Frequencies lists the stated marketing frequencies a magnet may promise.
var Frequencies = []string{"daily", "weekly", "fortnightly", "monthly", "quarterly", "occasionally"}

var idPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)

// Catalog is the validated set of configured magnets.
type Catalog struct {
	magnets []Magnet
	byID    map[string]Magnet
}

type file struct {
	Magnets []Magnet `json:"magnets"`
}

// Load reads and validates a catalog file.
func Load(path string) (*Catalog, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read magnet catalog: %w", err)
	}
	c, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("magnet catalog %s: %w", path, err)
	}
	return c, nil
}

// Parse validates a JSON catalog of the form {"magnets":[{...}]}. Unknown
// fields are rejected so a typo cannot silently drop a setting. Every problem
// is reported, each naming its magnet and field.
func Parse(data []byte) (*Catalog, error) {
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	var f file
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("decode magnets JSON: %w", err)
	}
	if len(f.Magnets) == 0 {
		return nil, errors.New("magnets: at least one magnet is required")
	}
	c := &Catalog{byID: make(map[string]Magnet, len(f.Magnets))}
	var errs []error
	for i, m := range f.Magnets {
		m = m.trimmed()
		for _, err := range m.validate() {
			errs = append(errs, fmt.Errorf("magnets[%d] (%q): %w", i, m.ID, err))
		}
		if _, dup := c.byID[m.ID]; dup {
			errs = append(errs, fmt.Errorf("magnets[%d]: id: %q is used twice", i, m.ID))
		}
		c.byID[m.ID] = m
		c.magnets = append(c.magnets, m)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return c, nil
}

// Get returns the magnet with the given id.
func (c *Catalog) Get(id string) (Magnet, bool) {
	m, ok := c.byID[id]
	return m, ok
}

// All returns the magnets in file order.
func (c *Catalog) All() []Magnet {
	return append([]Magnet(nil), c.magnets...)
}

// AllowsOrigin reports whether a browser page at origin (scheme://host[:port])
// may post sign-ups for this magnet.
func (m Magnet) AllowsOrigin(origin string) bool {
	for _, o := range m.AllowedOrigins {
		if strings.EqualFold(o, origin) {
			return true
		}
	}
	return false
}

func (m Magnet) trimmed() Magnet {
	for _, s := range []*string{&m.ID, &m.Title, &m.Description, &m.DownloadURL, &m.SenderName,
		&m.SenderEmail, &m.ReplyTo, &m.ConsentWording, &m.Frequency, &m.PrivacyPolicyURL,
		&m.Controller, &m.ThankYouURL} {
		*s = strings.TrimSpace(*s)
	}
	return m
}

func (m Magnet) validate() []error {
	var errs []error
	fail := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", field, fmt.Sprintf(format, args...)))
	}
	if !idPattern.MatchString(m.ID) {
		fail("id", "must be 1-63 characters of a-z, 0-9 and '-', starting with a letter or digit")
	}
	// Title and sender name reach email headers: one line, no control characters.
	for field, v := range map[string]string{"title": m.Title, "sender_name": m.SenderName} {
		switch {
		case v == "":
			fail(field, "is required")
		case len(v) > 200:
			fail(field, "must be at most 200 bytes")
		case hasControl(v):
			fail(field, "must be a single line without control characters")
		}
	}
	for field, v := range map[string]string{"description": m.Description, "consent_wording": m.ConsentWording, "controller": m.Controller} {
		if v == "" {
			fail(field, "is required")
		}
	}
	if p := m.Purpose; p != nil {
		if !idPattern.MatchString(p.ID) {
			fail("purpose.id", "must be 1-63 characters of a-z, 0-9 and '-', starting with a letter or digit")
		}
		if n := strings.TrimSpace(p.Name); n == "" || len(n) > 100 || hasControl(n) {
			fail("purpose.name", "is required: one line of at most 100 bytes, e.g. \"weekly SEO tips\"")
		}
	}
	if m.Controller != "" && slug(m.Controller) == "" {
		fail("controller", "must contain letters or digits (it names the controller-wide marketing purpose)")
	}
	for field, v := range map[string]string{"sender_email": m.SenderEmail, "reply_to": m.ReplyTo} {
		if field == "reply_to" && v == "" {
			continue
		}
		if err := plainAddress(v); err != nil {
			fail(field, "%v", err)
		}
	}
	if !slices.Contains(Frequencies, m.Frequency) {
		fail("frequency", "must be one of %s", strings.Join(Frequencies, ", "))
	}
	if err := linkURL(m.DownloadURL, true); err != nil {
		fail("download_url", "%v", err)
	}
	if err := linkURL(m.PrivacyPolicyURL, true); err != nil {
		fail("privacy_policy_url", "%v", err)
	}
	if m.ThankYouURL != "" {
		if err := linkURL(m.ThankYouURL, false); err != nil {
			fail("thank_you_url", "%v", err)
		}
	}
	if m.ConfirmExpiryHours < 0 || m.ConfirmExpiryHours > 30*24 {
		fail("confirm_expiry_hours", "must be between 1 and 720 (30 days); leave it out for 168 (7 days)")
	}
	for i, o := range m.AllowedOrigins {
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.Path != "" || u.RawQuery != "" {
			fail(fmt.Sprintf("allowed_origins[%d]", i), "must be an origin like https://example.com (scheme and host, no path)")
		}
	}
	return errs
}

func plainAddress(s string) error {
	if s == "" {
		return errors.New("is required")
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Name != "" || a.Address != s {
		return errors.New("must be a plain email address like news@example.com")
	}
	return nil
}

// linkURL accepts absolute http(s) URLs and, where allowed, root-relative paths.
func linkURL(s string, allowPath bool) error {
	if s == "" {
		return errors.New("is required")
	}
	u, err := url.Parse(s)
	if err != nil || hasControl(s) {
		return errors.New("must be a valid URL")
	}
	if allowPath && u.Scheme == "" && u.Host == "" && strings.HasPrefix(s, "/") && !strings.HasPrefix(s, "//") {
		return nil
	}
	if (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return errors.New("must be an absolute http(s) URL" + map[bool]string{true: " or a path starting with /"}[allowPath])
	}
	return nil
}

func hasControl(s string) bool {
	return strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f })
}
