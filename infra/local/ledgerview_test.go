package main_test

import (
	"net/http"
	"strings"
	"testing"
)

// The local ledger page shows one person in plain language — the
// operator's proof report — with the every-field view behind a link.
func TestLedgerPageInPlainLanguage(t *testing.T) {
	s := start(t, t.TempDir())
	resp, _ := s.do(t, "POST", "/signup", formType, "email=lena%40example.com&name=Lena&magnet=uk-gdpr-checklist&marketing_consent=yes")
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign-up: %d", resp.StatusCode)
	}
	resp, page := s.do(t, "GET", "/_local/ledger?email=lena%40example.com", "", "")
	m := drillMagnet(t)
	if resp.StatusCode != http.StatusOK || !strings.Contains(page, "Proof of consent") || !strings.Contains(page, m.ConsentWording) ||
		!strings.Contains(page, `href="/_local/ledger?view=developer&amp;email=lena%40example.com"`) {
		t.Fatalf("plain view: %d\n%.2000s", resp.StatusCode, page)
	}
	resp, page = s.do(t, "GET", "/_local/ledger?view=developer&email=lena%40example.com", "", "")
	if resp.StatusCode != http.StatusOK || !strings.Contains(page, "Consent ledger") || !strings.Contains(page, "Plain-language view") {
		t.Fatalf("developer view: %d\n%.2000s", resp.StatusCode, page)
	}
}
