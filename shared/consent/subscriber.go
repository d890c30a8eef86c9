package consent

import (
	"strings"
	"unicode"
)

// Subscriber types: who a person signs up as, on a magnet that asks
// (magnet.Magnet.AskSubscriberType). The answer is recorded on the
// `signup` event as evidence; it does not change the consent rules: an
// unticked box is a "no" for every type.
//
// PECR (regulation 22) sorts subscribers in two: individual subscribers —
// private people, sole traders and ordinary partnerships — may only be
// sent marketing email with consent (or a soft opt-in); corporate
// subscribers — companies registered at Companies House, LLPs and public
// bodies — are SubscriberCompany here. So SubscriberSoleTrader and
// SubscriberPartnership are individuals for PECR; they are kept apart from
// SubscriberIndividual only as evidence of what the person said. (A
// Scottish partnership is a legal person of its own, which the ICO counts
// as corporate; this list does not tell it apart yet.)
const (
	SubscriberIndividual  = "individual"  // a private person; the default
	SubscriberSoleTrader  = "sole_trader" // an individual for PECR
	SubscriberPartnership = "partnership" // an ordinary partnership: individuals for PECR
	SubscriberCompany     = "company"     // a registered company, an LLP or a public body
)

// SubscriberTypes lists the subscriber types in the order forms offer them.
var SubscriberTypes = []string{SubscriberIndividual, SubscriberSoleTrader, SubscriberPartnership, SubscriberCompany}

// Organisation kinds of a SubscriberCompany.
const (
	OrgRegistered = "registered"  // registered at Companies House (a company or LLP); the default
	OrgPublicBody = "public_body" // a public body: no Companies House number needed
)

// Organisation is the organisation a SubscriberCompany sign-up is for, as
// recorded on the `signup` event. Name, Role and Kind are always set on a
// company's sign-up; Number is the normalised Companies House number
// (CompanyNumber), which a public body may leave empty. Role is the job
// title of the person signing up, kept because marketing to a corporate
// subscriber's employee must be relevant to their role. The zero value
// means "no organisation" (every other subscriber type).
type Organisation struct {
	Name   string `json:"name,omitempty"`
	Role   string `json:"role,omitempty"`
	Number string `json:"number,omitempty"`
	Kind   string `json:"kind,omitempty"`
}

// MaxOrganisationLength caps an organisation's name and a role, in
// characters.
const MaxOrganisationLength = 120

// orgExtra are the runes an organisation's name or a role may hold beyond
// those of a person's name: ASCII digits, '&', ',', '(' and ')' ("Smith &
// Jones (UK) Ltd", "Head of Sales, EMEA", "3M United Kingdom plc").
func orgExtra(r rune) bool {
	return r >= '0' && r <= '9' || r == '&' || r == ',' || r == '(' || r == ')'
}

// CheckOrganisationName checks an organisation's name by CheckName's rules
// — inert text, refused rather than rewritten — with at most
// MaxOrganisationLength characters and digits, '&', ',', '(' and ')'
// allowed too. It returns the name trimmed ("" for an empty one), or a
// message for the visitor.
func CheckOrganisationName(raw string) (name, problem string) {
	switch name, fault := inertText(raw, MaxOrganisationLength, orgExtra); fault {
	case textTooLong:
		return "", "The organisation's name can be at most 120 characters."
	case textChars:
		return "", "The organisation's name can only contain letters, digits, single spaces, apostrophes, hyphens, full stops, commas, '&' and brackets — no web or email addresses."
	default:
		return name, ""
	}
}

// CheckRole checks a person's role (job title) by the same rules as
// CheckOrganisationName. It returns the role trimmed ("" for an empty
// one), or a message for the visitor.
func CheckRole(raw string) (role, problem string) {
	switch role, fault := inertText(raw, MaxOrganisationLength, orgExtra); fault {
	case textTooLong:
		return "", "Your role can be at most 120 characters."
	case textChars:
		return "", "Your role can only contain letters, digits, single spaces, apostrophes, hyphens, full stops, commas, '&' and brackets — no web or email addresses."
	default:
		return role, ""
	}
}

// companyNumberPrefixes are the two-character prefixes of Companies House
// numbers (from Companies House's URI customer guide, plus the charitable
// incorporated organisations and registered societies it registers since).
// An England & Wales company has no prefix: its number is 8 digits. This is
// the one list; CompanyNumber reads it.
var companyNumberPrefixes = map[string]string{
	"SC": "Scottish company",
	"NI": "Northern Ireland company",
	"R0": "Northern Ireland company registered before partition",
	"OC": "limited liability partnership (England & Wales)",
	"SO": "limited liability partnership (Scotland)",
	"NC": "limited liability partnership (Northern Ireland)",
	"LP": "limited partnership (England & Wales)",
	"SL": "limited partnership (Scotland)",
	"NL": "limited partnership (Northern Ireland)",
	"SG": "Scottish qualifying partnership",
	"FC": "overseas company",
	"SF": "overseas company registered in Scotland (before 1 October 2009)",
	"NF": "overseas company registered in Northern Ireland (before 1 October 2009)",
	"GE": "European Economic Interest Grouping (England & Wales)",
	"GS": "European Economic Interest Grouping (Scotland)",
	"GN": "European Economic Interest Grouping (Northern Ireland)",
	"SE": "European company, Societas Europaea (England & Wales)",
	"ES": "European company, Societas Europaea (Scotland)",
	"EN": "European company, Societas Europaea (Northern Ireland)",
	"AC": "assurance company (England & Wales)",
	"SA": "assurance company (Scotland)",
	"NA": "assurance company (Northern Ireland)",
	"ZC": "unregistered company (England & Wales)",
	"SZ": "unregistered company (Scotland)",
	"NZ": "unregistered company (Northern Ireland)",
	"RC": "Royal Charter company (England & Wales)",
	"SR": "Royal Charter company (Scotland)",
	"NR": "Royal Charter company (Northern Ireland)",
	"IC": "investment company with variable capital (England & Wales)",
	"SI": "investment company with variable capital (Scotland)",
	"NV": "investment company with variable capital (Northern Ireland)",
	"CE": "charitable incorporated organisation (England & Wales)",
	"CS": "charitable incorporated organisation (Scotland)",
	"IP": "industrial and provident society (England & Wales)",
	"SP": "industrial and provident society (Scotland)",
	"NP": "industrial and provident society or credit union (Northern Ireland)",
	"NO": "credit union or industrial and provident society (Northern Ireland)",
	"RS": "registered society",
}

// societyPrefixes are the prefixes of societies registered with the FCA
// (co-operatives, community benefit societies, credit unions). Their
// Companies House numbers carry the FCA register number, which may end in
// its suffix: R (registered society), C (credit union) or RS (Scottish), so
// IP00525R, RS00592C and SP1692RS are numbers as Companies House shows them.
var societyPrefixes = map[string]bool{"IP": true, "SP": true, "NP": true, "NO": true, "RS": true}

// CompanyNumber normalises and checks a Companies House number: spaces are
// removed and ASCII letters upper-cased, then it must be 8 characters —
// 8 digits (leading zeros kept, e.g. 01234567), or a prefix from
// companyNumberPrefixes and 6 digits (SC123456); a society's prefix may be
// followed by fewer digits and an FCA suffix (IP00525R, RS00592C,
// SP1692RS). It returns the normalised number and true, or "" and false.
// It checks the format only, not that the company exists.
func CompanyNumber(raw string) (string, bool) {
	if len(raw) > 32 {
		return "", false
	}
	var b strings.Builder
	for _, r := range raw {
		switch {
		case unicode.IsSpace(r):
		case r >= 'a' && r <= 'z':
			b.WriteRune(r - 'a' + 'A')
		default:
			b.WriteRune(r)
		}
	}
	n := b.String()
	if len(n) != 8 {
		return "", false
	}
	if allDigits(n) {
		return n, true
	}
	prefix, rest := n[:2], n[2:]
	if _, ok := companyNumberPrefixes[prefix]; !ok {
		return "", false
	}
	if allDigits(rest) {
		return n, true
	}
	if !societyPrefixes[prefix] {
		return "", false
	}
	for _, suffix := range []string{"R", "C", "RS"} {
		if digits, ok := strings.CutSuffix(rest, suffix); ok && allDigits(digits) {
			return n, true
		}
	}
	return "", false
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// CheckSubscriber checks who a sign-up says it is for. asked is whether
// the magnet's form asks (magnet.Magnet.AskSubscriberType). It returns the
// subscriber type and organisation to record, or messages keyed by the
// form field at fault (subscriber_type, org_kind, organisation, role,
// company_number):
//
//   - a magnet that does not ask takes none of these fields: each one sent
//     with a value is refused (a hand-written form cannot slip a type in),
//     and nothing is recorded ("", zero Organisation);
//   - otherwise the type is one of SubscriberTypes, "" meaning
//     SubscriberIndividual; the organisation fields belong to
//     SubscriberCompany only and are refused with any other type;
//   - a company needs the organisation's name (CheckOrganisationName), the
//     person's role (CheckRole) and, unless org_kind is OrgPublicBody, a
//     Companies House number (CompanyNumber); org_kind "" means
//     OrgRegistered. A public body's number is optional, checked if given.
//
// With any message the type and organisation returned are zero; without,
// the map is empty.
func CheckSubscriber(asked bool, subscriberType string, org Organisation) (string, Organisation, map[string]string) {
	fields := map[string]string{}
	given := map[string]string{
		"subscriber_type": subscriberType, "organisation": org.Name, "role": org.Role,
		"company_number": org.Number, "org_kind": org.Kind,
	}
	if !asked {
		for field, v := range given {
			if strings.TrimSpace(v) != "" {
				fields[field] = "This form does not ask who you sign up as; leave this out."
			}
		}
		return "", Organisation{}, fields
	}
	typ := strings.TrimSpace(subscriberType)
	switch typ {
	case "":
		typ = SubscriberIndividual
	case SubscriberIndividual, SubscriberSoleTrader, SubscriberPartnership, SubscriberCompany:
	default:
		fields["subscriber_type"] = "Choose whether you sign up as an individual, a sole trader, a partnership or for a company or public body."
		return "", Organisation{}, fields
	}
	if typ != SubscriberCompany {
		for field, v := range given {
			if field != "subscriber_type" && strings.TrimSpace(v) != "" {
				fields[field] = "Only for a company or public body: leave this empty, or choose that you sign up for one."
			}
		}
		if len(fields) > 0 {
			return "", Organisation{}, fields
		}
		return typ, Organisation{}, fields
	}
	var out Organisation
	switch kind := strings.TrimSpace(org.Kind); kind {
	case "", OrgRegistered:
		out.Kind = OrgRegistered
	case OrgPublicBody:
		out.Kind = OrgPublicBody
	default:
		fields["org_kind"] = "Choose a company registered at Companies House or a public body."
	}
	var problem string
	switch out.Name, problem = CheckOrganisationName(org.Name); {
	case problem != "":
		fields["organisation"] = problem
	case out.Name == "":
		fields["organisation"] = "Enter the name of the company or public body."
	}
	switch out.Role, problem = CheckRole(org.Role); {
	case problem != "":
		fields["role"] = problem
	case out.Role == "":
		fields["role"] = "Enter your role (job title) there."
	}
	switch number := strings.TrimSpace(org.Number); {
	case number == "" && out.Kind == OrgPublicBody:
	case number == "":
		fields["company_number"] = "Enter the company's Companies House number, like 01234567 or SC123456."
	default:
		var ok bool
		if out.Number, ok = CompanyNumber(number); !ok {
			fields["company_number"] = "Enter a Companies House number: 8 characters, like 01234567 or SC123456."
		}
	}
	if len(fields) > 0 {
		return "", Organisation{}, fields
	}
	return typ, out, fields
}
