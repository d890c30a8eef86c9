package consent

import (
	"maps"
	"slices"
	"strings"
	"testing"
)

func TestCompanyNumber(t *testing.T) {
	tests := []struct {
		name, in string
		want     string // "" when refused
	}{
		// Accepted, normalised.
		{"England & Wales, 8 digits", "12345678", "12345678"},
		{"leading zeros kept", "01234567", "01234567"},
		{"all zeros but one", "00000001", "00000001"},
		{"Scottish company", "SC123456", "SC123456"},
		{"lower case upper-cased", "sc123456", "SC123456"},
		{"mixed case", "Ni012345", "NI012345"},
		{"spaces removed", " SC 123 456 ", "SC123456"},
		{"spaces in digits", "0123 4567", "01234567"},
		{"tab and no-break space removed", "OC\t30\u00A00001", "OC300001"},
		{"LLP England & Wales", "OC123456", "OC123456"},
		{"LLP Scotland", "SO301234", "SO301234"},
		{"LLP Northern Ireland", "NC001234", "NC001234"},
		{"limited partnership", "LP012345", "LP012345"},
		{"Scottish limited partnership", "SL012345", "SL012345"},
		{"NI limited partnership", "NL000123", "NL000123"},
		{"NI before partition (R zero)", "R0000123", "R0000123"},
		{"overseas company", "FC012345", "FC012345"},
		{"Scottish overseas", "SF000123", "SF000123"},
		{"NI overseas", "NF000123", "NF000123"},
		{"EEIG", "GE000123", "GE000123"},
		{"charitable incorporated organisation", "CE010135", "CE010135"},
		{"Scottish CIO", "CS000123", "CS000123"},
		{"industrial and provident", "IP030808", "IP030808"},
		{"Scottish ICVC", "SI000123", "SI000123"},
		{"NI society", "NO000123", "NO000123"},
		{"NI industrial and provident", "NP000123", "NP000123"},
		{"Scottish industrial and provident", "SP000123", "SP000123"},
		{"registered society", "RS007018", "RS007018"},
		{"society, FCA suffix R", "IP00525R", "IP00525R"},
		{"society, FCA suffix R, lower case", "ip00525r", "IP00525R"},
		{"credit union, FCA suffix C", "RS00592C", "RS00592C"},
		{"Scottish society, FCA suffix RS", "SP1692RS", "SP1692RS"},

		// Refused.
		{"empty", "", ""},
		{"only spaces", "   ", ""},
		{"7 digits (leading zero dropped)", "1234567", ""},
		{"9 digits", "123456789", ""},
		{"prefix and 5 digits", "SC12345", ""},
		{"prefix and 7 digits", "SC1234567", ""},
		{"unknown prefix", "XX123456", ""},
		{"unknown prefix AB", "AB123456", ""},
		{"R with letter O, not zero", "RO000123", ""},
		{"one letter", "S1234567", ""},
		{"letters at the end", "123456SC", ""},
		{"letter in the digits", "SC12345A", ""},
		{"FCA suffix on a company prefix", "SC12345R", ""},
		{"unknown FCA suffix", "IP00525X", ""},
		{"FCA suffix without digits", "IP0000RR", ""},
		{"hyphen", "SC-12345", ""},
		{"hyphen in digits", "0123-4567", ""},
		{"full stop", "01.234567", ""},
		{"fullwidth digits", "０１２３４５６７", ""},
		{"Arabic-Indic digits", "٠١٢٣٤٥٦٧", ""},
		{"long s upper-cases to S elsewhere", "ſC123456", ""},
		{"Turkish dotless i", "nı012345", ""},
		{"NUL", "0123456\x00", ""},
		{"newline inside", "0123\n4567", "01234567"}, // a line break is white space: removed like a space
		{"very long", strings.Repeat("1", 1000), ""},
		{"GB VAT number", "GB123456789", ""},
	}
	for _, tt := range tests {
		got, ok := CompanyNumber(tt.in)
		if got != tt.want || ok != (tt.want != "") {
			t.Errorf("%s: CompanyNumber(%.40q) = %q, %v; want %q, %v", tt.name, tt.in, got, ok, tt.want, tt.want != "")
		}
	}
}

// The prefixes named in the issue are all in the one list.
func TestCompanyNumberPrefixesIncludeTheKnownOnes(t *testing.T) {
	for _, p := range []string{"SC", "NI", "OC", "SO", "NC", "LP", "SL", "NL", "R0", "IP", "SP", "NP", "RS", "SI", "NO", "GE", "FC", "SF", "NF", "CE", "CS"} {
		if _, ok := companyNumberPrefixes[p]; !ok {
			t.Errorf("prefix %s missing", p)
		}
		if _, ok := CompanyNumber(p + "123456"); !ok {
			t.Errorf("CompanyNumber(%s123456) refused", p)
		}
	}
	for p := range companyNumberPrefixes {
		if len(p) != 2 || p != strings.ToUpper(p) {
			t.Errorf("prefix %q: want two upper-case characters", p)
		}
	}
}

func TestCheckOrganisationNameAndRole(t *testing.T) {
	const (
		ok      = ""
		tooLong = "too long"
		chars   = "chars"
	)
	tests := []struct {
		name, in, want string
		fail           string
	}{
		{"empty", "", "", ok},
		{"simple", "Acme Ltd", "Acme Ltd", ok},
		{"trimmed", "  Acme Ltd \t", "Acme Ltd", ok},
		{"ampersand and brackets", "Smith & Jones (UK) Ltd", "Smith & Jones (UK) Ltd", ok},
		{"digits", "3M United Kingdom plc", "3M United Kingdom plc", ok},
		{"comma", "Head of Sales, EMEA", "Head of Sales, EMEA", ok},
		{"apostrophe and hyphen", "St. John's Hand-Made Co.", "St. John's Hand-Made Co.", ok},
		{"Welsh", "Cyngor Sir Ynys Môn", "Cyngor Sir Ynys Môn", ok},
		{"accented", "Café Ümlaut", "Café Ümlaut", ok},
		{"exactly 120", strings.Repeat("é", 120), strings.Repeat("é", 120), ok},

		{"121 characters", strings.Repeat("a", 121), "", tooLong},

		{"host name", "acme.example", "", chars},
		{"URL", "https://acme.example", "", chars},
		{"email", "sales@acme.example", "", chars},
		{"slash", "Sales/Marketing", "", chars},
		{"colon", "Re: offer", "", chars},
		{"newline", "Acme\nBcc: x@y", "", chars},
		{"bidi override", "Acme\u202Eevil", "", chars},
		{"zero-width space", "Ac\u200Bme", "", chars},
		{"HTML", "<b>Acme</b>", "", chars},
		{"formula", "=HYPERLINK(1)", "", chars},
		{"leading hyphen", "-Acme", "", chars},
		{"plus", "Acme+", "", chars},
		{"double space", "Acme  Ltd", "", chars},
		{"no letters", "1066 (1)", "", chars},
		{"non-ASCII digits", "Acme ٣", "", chars},
		{"pound sign", "Acme £1000 prize", "", chars},
		{"invalid UTF-8", "Acme\xff", "", chars},
	}
	checks := map[string]func(string) (string, string){"CheckOrganisationName": CheckOrganisationName, "CheckRole": CheckRole}
	for fn, check := range checks {
		for _, tt := range tests {
			got, problem := check(tt.in)
			switch tt.fail {
			case ok:
				if problem != "" || got != tt.want {
					t.Errorf("%s: %s(%.40q) = %q, %q; want %q, no problem", tt.name, fn, tt.in, got, problem, tt.want)
				}
			case tooLong:
				if got != "" || !strings.Contains(problem, "at most 120") {
					t.Errorf("%s: %s(%.40q) = %q, %q; want a length problem", tt.name, fn, tt.in, got, problem)
				}
			case chars:
				if got != "" || !strings.Contains(problem, "can only contain") {
					t.Errorf("%s: %s(%.40q) = %q, %q; want a characters problem", tt.name, fn, tt.in, got, problem)
				}
			}
		}
	}
}

func TestCheckSubscriber(t *testing.T) {
	acme := Organisation{Name: " Acme Ltd ", Role: "Head of IT", Number: "sc 123456"}
	tests := []struct {
		name       string
		asked      bool
		typ        string
		org        Organisation
		wantType   string
		wantOrg    Organisation
		wantFields []string // fields with a problem, sorted
	}{
		{"not asked, nothing sent", false, "", Organisation{}, "", Organisation{}, nil},
		{"not asked, spaces only", false, " ", Organisation{Name: " "}, "", Organisation{}, nil},
		{"not asked, type sent", false, "company", Organisation{}, "", Organisation{}, []string{"subscriber_type"}},
		{"not asked, individual sent", false, "individual", Organisation{}, "", Organisation{}, []string{"subscriber_type"}},
		{"not asked, organisation fields sent", false, "", Organisation{Name: "Acme", Role: "CEO", Number: "01234567", Kind: "public_body"}, "", Organisation{},
			[]string{"company_number", "org_kind", "organisation", "role"}},

		{"asked, default individual", true, "", Organisation{}, SubscriberIndividual, Organisation{}, nil},
		{"asked, individual", true, " individual ", Organisation{}, SubscriberIndividual, Organisation{}, nil},
		{"asked, sole trader", true, "sole_trader", Organisation{}, SubscriberSoleTrader, Organisation{}, nil},
		{"asked, partnership", true, "partnership", Organisation{}, SubscriberPartnership, Organisation{}, nil},
		{"asked, unknown type", true, "corporate", Organisation{}, "", Organisation{}, []string{"subscriber_type"}},
		{"asked, type in other case", true, "Company", acme, "", Organisation{}, []string{"subscriber_type"}},
		{"individual with an organisation", true, "individual", Organisation{Name: "Acme"}, "", Organisation{}, []string{"organisation"}},
		{"sole trader with a number", true, "sole_trader", Organisation{Number: "01234567"}, "", Organisation{}, []string{"company_number"}},
		{"partnership marked public body", true, "partnership", Organisation{Kind: "public_body"}, "", Organisation{}, []string{"org_kind"}},

		{"company", true, "company", acme, SubscriberCompany,
			Organisation{Name: "Acme Ltd", Role: "Head of IT", Number: "SC123456", Kind: OrgRegistered}, nil},
		{"company, kind registered", true, "company", Organisation{Name: "Acme Ltd", Role: "CEO", Number: "01234567", Kind: "registered"}, SubscriberCompany,
			Organisation{Name: "Acme Ltd", Role: "CEO", Number: "01234567", Kind: OrgRegistered}, nil},
		{"company, nothing given", true, "company", Organisation{}, "", Organisation{}, []string{"company_number", "organisation", "role"}},
		{"company without a number", true, "company", Organisation{Name: "Acme Ltd", Role: "CEO"}, "", Organisation{}, []string{"company_number"}},
		{"company, bad number", true, "company", Organisation{Name: "Acme Ltd", Role: "CEO", Number: "XX123456"}, "", Organisation{}, []string{"company_number"}},
		{"company, bad name and role", true, "company", Organisation{Name: "acme.example", Role: "CEO\nBcc: x", Number: "01234567"}, "", Organisation{}, []string{"organisation", "role"}},
		{"company, unknown kind", true, "company", Organisation{Name: "Acme Ltd", Role: "CEO", Number: "01234567", Kind: "charity"}, "", Organisation{}, []string{"org_kind"}},
		{"public body without a number", true, "company", Organisation{Name: "Cyngor Sir Ynys Môn", Role: "Procurement officer", Kind: "public_body"}, SubscriberCompany,
			Organisation{Name: "Cyngor Sir Ynys Môn", Role: "Procurement officer", Kind: OrgPublicBody}, nil},
		{"public body with a number", true, "company", Organisation{Name: "Acme Trust", Role: "CEO", Number: "rc000123", Kind: "public_body"}, SubscriberCompany,
			Organisation{Name: "Acme Trust", Role: "CEO", Number: "RC000123", Kind: OrgPublicBody}, nil},
		{"public body, bad number", true, "company", Organisation{Name: "Acme Trust", Role: "CEO", Number: "123", Kind: "public_body"}, "", Organisation{}, []string{"company_number"}},
		{"public body without a role", true, "company", Organisation{Name: "Acme Trust", Kind: "public_body"}, "", Organisation{}, []string{"role"}},
	}
	for _, tt := range tests {
		gotType, gotOrg, problems := CheckSubscriber(tt.asked, tt.typ, tt.org)
		gotFields := slices.Sorted(maps.Keys(problems))
		if gotType != tt.wantType || gotOrg != tt.wantOrg || !slices.Equal(gotFields, tt.wantFields) {
			t.Errorf("%s: got %q, %+v, problems %v; want %q, %+v, problems with %v", tt.name, gotType, gotOrg, problems, tt.wantType, tt.wantOrg, tt.wantFields)
		}
		for field, msg := range problems {
			if msg == "" {
				t.Errorf("%s: %s has an empty message", tt.name, field)
			}
		}
	}
}
