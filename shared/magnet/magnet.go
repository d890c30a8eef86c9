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
	Controller string `json:"controller"`
	// PrivacyContact (optional) is the email address people write to about
	// their data (requests, questions, complaints); the privacy notice
	// gives it. Without it the notice gives ReplyTo, else SenderEmail: see
	// PrivacyContactAddress.
	PrivacyContact string `json:"privacy_contact"`
	// DPO (optional) names the controller's data protection officer and how
	// to reach them, one line ("Jane Doe, dpo@example.com"); the privacy
	// notice gives it.
	DPO            string   `json:"dpo,omitempty"`
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
	// ProductCategories (optional) are the kinds of product or service
	// this magnet's marketing purpose is about ("accounting software"); an
	// imported customer's soft opt-in counts for a purpose only if their
	// purchase's category is one of its purpose's categories.
	ProductCategories []string `json:"product_categories,omitempty"`
	// ExtraPurposes (optional, at most MaxExtraPurposes) are further
	// marketing purposes, each asked by its own unticked checkbox under the
	// main one — a named partner, a narrower list. Each box is its own
	// purpose; the freebie never depends on any of them.
	ExtraPurposes []ExtraPurpose `json:"extra_purposes,omitempty"`
}

// MaxExtraPurposes caps a magnet's extra purposes (checkboxes).
const MaxExtraPurposes = 5

// ExtraPurpose is a further marketing purpose a magnet asks for with its own
// unticked checkbox.
type ExtraPurpose struct {
	// ID is 1-63 characters of a-z, 0-9 and '-', unique within the magnet
	// and different from its Purpose's id; see Magnet.ExtraPurposeID.
	ID string `json:"id"`
	// Name says it for people ("offers from Books R Us Ltd"): one line of
	// at most 100 bytes.
	Name string `json:"name"`
	// Wording is shown verbatim next to its own checkbox and recorded
	// verbatim with its grants.
	Wording string `json:"consent_wording"`
	// Partner is the named third party that will email, if any ("Books R
	// Us Ltd, 2 Low St, Leeds"); Wording must name it (its text up to the
	// first comma).
	Partner string `json:"partner,omitempty"`
}

// ExtraPurposeID is the purpose p's checkbox asks consent for:
// "<controller purpose>/<p.ID>" ("marketing:acme-ltd/books-r-us") — a
// purpose of the magnet's controller, so "stop all marketing from
// <controller>" stops it too.
func (m Magnet) ExtraPurposeID(p ExtraPurpose) string {
	return ControllerPurpose(m.Controller) + "/" + p.ID
}

// Extra returns the magnet's extra purpose with the given id (ExtraPurpose.ID).
func (m Magnet) Extra(id string) (ExtraPurpose, bool) {
	for _, p := range m.ExtraPurposes {
		if p.ID == id {
			return p, true
		}
	}
	return ExtraPurpose{}, false
}

// PurposeIDs lists every purpose m asks consent for: its main purpose
// (PurposeID) first, then each extra purpose's, in order.
func (m Magnet) PurposeIDs() []string {
	ids := []string{m.PurposeID()}
	for _, p := range m.ExtraPurposes {
		ids = append(ids, m.ExtraPurposeID(p))
	}
	return ids
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

// PrivacyContactAddress is where people write about their data: the
// magnet's PrivacyContact, else its ReplyTo, else its SenderEmail.
func (m Magnet) PrivacyContactAddress() string {
	for _, a := range []string{m.PrivacyContact, m.ReplyTo} {
		if a != "" {
			return a
		}
	}
	return m.SenderEmail
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
	magnets  []Magnet
	byID     map[string]Magnet
	purposes []PurposeInfo
}

// PurposeInfo describes one purpose the catalog asks consent for.
type PurposeInfo struct {
	// ID is the purpose id: "marketing:acme-ltd",
	// "marketing:acme-ltd/seo-tips", "marketing:acme-ltd/books-r-us".
	ID string
	// Name says it for people, as Magnet.PurposeName does: "marketing
	// email from Acme Ltd", "weekly SEO tips from Acme Ltd"; for an extra
	// purpose its configured name ("offers from Books R Us Ltd").
	Name string
	// Controller is the controller-wide purpose id ID belongs to.
	Controller string
	// Categories is the union of the ProductCategories of the magnets whose
	// main purpose (PurposeID) is ID, first spelling kept; nil for a
	// purpose only asked as an extra.
	Categories []string
	// Partner is, for an extra purpose, the named third party that will
	// email, if any.
	Partner string
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
	var perrs []error
	c.purposes, perrs = purposesOf(c.magnets)
	errs = append(errs, perrs...)
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return c, nil
}

// purposesOf lists the purposes magnets ask for, in catalog order, each
// once: per magnet its controller-wide purpose, its main purpose and its
// extra purposes. One purpose id asked by several magnets must name the same
// partner (or none) everywhere: one id is one purpose.
func purposesOf(magnets []Magnet) ([]PurposeInfo, []error) {
	var (
		list []PurposeInfo
		errs []error
	)
	index := map[string]int{}
	where := map[string]string{} // purpose id -> the magnet field that first named it
	add := func(p PurposeInfo, from string) int {
		i, seen := index[p.ID]
		if !seen {
			index[p.ID] = len(list)
			where[p.ID] = from
			list = append(list, p)
			return len(list) - 1
		}
		if !strings.EqualFold(list[i].Partner, p.Partner) {
			errs = append(errs, fmt.Errorf("%s: purpose %s names partner %q but %s names %q; one purpose id is one purpose — give each partner its own id",
				from, p.ID, p.Partner, where[p.ID], list[i].Partner))
		}
		return i
	}
	for i, m := range magnets {
		if m.Controller == "" || slug(m.Controller) == "" {
			continue // reported by validate
		}
		controller := ControllerPurpose(m.Controller)
		add(PurposeInfo{ID: controller, Name: "marketing email from " + ControllerName(m.Controller), Controller: controller},
			fmt.Sprintf("magnets[%d] (%q): controller", i, m.ID))
		field := "controller"
		if m.Purpose != nil {
			field = "purpose"
		}
		main := add(PurposeInfo{ID: m.PurposeID(), Name: m.PurposeName(), Controller: controller}, fmt.Sprintf("magnets[%d] (%q): %s", i, m.ID, field))
		for _, c := range m.ProductCategories {
			if !slices.ContainsFunc(list[main].Categories, func(have string) bool { return strings.EqualFold(have, c) }) {
				list[main].Categories = append(list[main].Categories, c)
			}
		}
		for j, p := range m.ExtraPurposes {
			add(PurposeInfo{ID: m.ExtraPurposeID(p), Name: p.Name, Controller: controller, Partner: p.Partner},
				fmt.Sprintf("magnets[%d] (%q): extra_purposes[%d]", i, m.ID, j))
		}
	}
	return list, errs
}

// Purposes returns every purpose the catalog asks consent for, in catalog
// order, each once. Every controller's controller-wide purpose is listed,
// even if all its magnets ask for narrower ones.
func (c *Catalog) Purposes() []PurposeInfo {
	out := make([]PurposeInfo, len(c.purposes))
	for i, p := range c.purposes {
		p.Categories = slices.Clone(p.Categories)
		out[i] = p
	}
	return out
}

// Purpose returns the purpose with the given id, if the catalog asks for it.
func (c *Catalog) Purpose(id string) (PurposeInfo, bool) {
	for _, p := range c.purposes {
		if p.ID == id {
			p.Categories = slices.Clone(p.Categories)
			return p, true
		}
	}
	return PurposeInfo{}, false
}

// localPrefix starts the paths the local server serves its sample files
// under; they exist nowhere else.
const localPrefix = "/_local/"

// LocalOnlyLinks reports every link that only the local server can serve
// (a path under /_local/, like the sample magnet's download), naming the
// magnet and field, or nil. A deployed function refuses such a catalog:
// on AWS the link would lead nowhere.
func (c *Catalog) LocalOnlyLinks() error {
	var errs []error
	for i, m := range c.magnets {
		for field, link := range map[string]string{"download_url": m.DownloadURL, "privacy_policy_url": m.PrivacyPolicyURL, "thank_you_url": m.ThankYouURL} {
			if strings.HasPrefix(link, localPrefix) {
				errs = append(errs, fmt.Errorf("magnets[%d] (%q): %s: %s is one of the local server's sample files, which do not exist on AWS: link to where the file really lives (https://…)", i, m.ID, field, link))
			}
		}
	}
	slices.SortFunc(errs, func(a, b error) int { return strings.Compare(a.Error(), b.Error()) })
	return errors.Join(errs...)
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
		&m.Controller, &m.ThankYouURL, &m.PrivacyContact, &m.DPO} {
		*s = strings.TrimSpace(*s)
	}
	// Copies, so trimming never changes the caller's slices.
	if m.ProductCategories != nil {
		cats := make([]string, len(m.ProductCategories))
		for i, c := range m.ProductCategories {
			cats[i] = strings.TrimSpace(c)
		}
		m.ProductCategories = cats
	}
	if m.ExtraPurposes != nil {
		extras := make([]ExtraPurpose, len(m.ExtraPurposes))
		for i, p := range m.ExtraPurposes {
			extras[i] = ExtraPurpose{ID: strings.TrimSpace(p.ID), Name: strings.TrimSpace(p.Name),
				Wording: strings.TrimSpace(p.Wording), Partner: strings.TrimSpace(p.Partner)}
		}
		m.ExtraPurposes = extras
	}
	if m.Purpose != nil {
		p := Purpose{ID: strings.TrimSpace(m.Purpose.ID), Name: strings.TrimSpace(m.Purpose.Name)}
		m.Purpose = &p
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
	if phrase := vagueRecipients(m.ConsentWording); phrase != "" {
		fail("consent_wording", "must not say %q: consent to unnamed recipients is not consent — name each partner as its own extra purpose (extra_purposes, with partner)", phrase)
	}
	m.validateExtras(fail)
	seen := map[string]bool{}
	for i, c := range m.ProductCategories {
		field := fmt.Sprintf("product_categories[%d]", i)
		switch key := strings.ToLower(c); {
		case c == "" || len(c) > 60 || hasControl(c):
			fail(field, "must be one line of 1-60 bytes, e.g. \"accounting software\"")
		case seen[key]:
			fail(field, "%q is listed twice", c)
		default:
			seen[key] = true
		}
	}
	if m.DPO != "" && (len(m.DPO) > 200 || hasControl(m.DPO)) {
		fail("dpo", "must be one line of at most 200 bytes: the officer's name and how to reach them (\"Jane Doe, dpo@example.com\")")
	}
	if m.Controller != "" && slug(m.Controller) == "" {
		fail("controller", "must contain letters or digits (it names the controller-wide marketing purpose)")
	}
	for field, v := range map[string]string{"sender_email": m.SenderEmail, "reply_to": m.ReplyTo, "privacy_contact": m.PrivacyContact} {
		if field != "sender_email" && v == "" {
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

// validateExtras checks the extra purposes, reporting through fail.
func (m Magnet) validateExtras(fail func(field, format string, args ...any)) {
	if len(m.ExtraPurposes) > MaxExtraPurposes {
		fail("extra_purposes", "at most %d extra purposes (checkboxes) per magnet", MaxExtraPurposes)
	}
	ids := map[string]bool{}
	for i, p := range m.ExtraPurposes {
		field := fmt.Sprintf("extra_purposes[%d].", i)
		switch {
		case !idPattern.MatchString(p.ID):
			fail(field+"id", "must be 1-63 characters of a-z, 0-9 and '-', starting with a letter or digit")
		case ids[p.ID]:
			fail(field+"id", "%q is used twice in this magnet", p.ID)
		case m.Purpose != nil && p.ID == m.Purpose.ID:
			fail(field+"id", "%q is the magnet's purpose.id; an extra checkbox asks for a different purpose", p.ID)
		}
		ids[p.ID] = true
		if p.Name == "" || len(p.Name) > 100 || hasControl(p.Name) {
			fail(field+"name", "is required: one line of at most 100 bytes, e.g. \"offers from Books R Us Ltd\"")
		}
		if p.Partner != "" && (len(p.Partner) > 200 || hasControl(p.Partner)) {
			fail(field+"partner", "must be one line of at most 200 bytes: the partner's name, then its address (\"Books R Us Ltd, 2 Low St, Leeds\")")
		}
		switch {
		case p.Wording == "":
			fail(field+"consent_wording", "is required: it is shown next to this purpose's own checkbox")
		case vagueRecipients(p.Wording) != "":
			fail(field+"consent_wording", "must not say %q: consent to unnamed recipients is not consent — name each partner as its own extra purpose, with partner", vagueRecipients(p.Wording))
		case p.Partner != "" && !strings.Contains(strings.ToLower(p.Wording), strings.ToLower(ControllerName(p.Partner))):
			fail(field+"consent_wording", "must name the partner %q: people must see who will email them", ControllerName(p.Partner))
		}
	}
}

// vaguePhrases name recipients without naming them. Consent for partners
// must name each one; "selected third parties" is not consent.
var vaguePhrases = []string{"selected third parties", "third parties", "carefully selected", "carefully chosen",
	"selected partners", "trusted partners", "our partners"}

// vagueRecipients returns the first vague-recipient phrase wording uses
// as whole words (case, punctuation and spacing ignored: "Third-Parties"
// counts), or "". A phrase denied within the six words before it in the
// same clause — "we never share your details with third parties" — does
// not count.
func vagueRecipients(wording string) string {
	clauses := strings.FieldsFunc(strings.ToLower(wording), func(r rune) bool { return strings.ContainsRune(".,;:!?()", r) })
	for _, p := range vaguePhrases {
		phrase := strings.Fields(p)
		for _, clause := range clauses {
			words := strings.FieldsFunc(clause, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
			for i := 0; i+len(phrase) <= len(words); i++ {
				if slices.Equal(words[i:i+len(phrase)], phrase) && !slices.ContainsFunc(words[max(0, i-6):i], isDenial) {
					return p
				}
			}
		}
	}
	return ""
}

func isDenial(word string) bool {
	return word == "never" || word == "not" || word == "no" || word == "nor"
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
