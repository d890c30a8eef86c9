package web_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/unbundled/unbundled/shared/consent"
	"github.com/unbundled/unbundled/shared/consent/consenttest"
	"github.com/unbundled/unbundled/shared/magnet"
	"github.com/unbundled/unbundled/shared/web"
)

// narrowCatalog makes the sample magnet ask for "weekly SEO tips" only.
func narrowCatalog(t *testing.T) func(*web.Server) {
	t.Helper()
	m := consenttest.SampleMagnet(t)
	m.Purpose = &magnet.Purpose{ID: "seo-tips", Name: "weekly SEO tips"}
	m.DoubleOptIn = new(false)
	catalog := consenttest.CatalogOf(t, m)
	return func(s *web.Server) { s.Catalog, s.Service.Catalog = catalog, catalog }
}

func TestUnsubscribePageOffersStopAllFirst(t *testing.T) {
	narrow := consenttest.SamplePurpose + "/seo-tips"
	for _, tt := range []struct {
		scope      string
		wantNarrow consent.State
		wantPage   string
	}{
		{"purpose", consent.StateWithdrawn, "You will get no more weekly SEO tips from Example Ltd."},
		{"all", consent.StateWithdrawn, "You will get no more marketing email from Example Ltd"},
	} {
		t.Run(tt.scope, func(t *testing.T) {
			e := newEnv(t, narrowCatalog(t))
			e.do(t, "POST", "/signup", form, "email=ann%40example.com&magnet=uk-gdpr-checklist&marketing_consent=yes")
			path := unsubscribePath(t, e)
			page := e.do(t, "GET", path, "", "").Body.String()
			all := strings.Index(page, "Stop all marketing from Example Ltd</button>")
			only := strings.Index(page, "Stop only weekly SEO tips</button>")
			if all < 0 || only < 0 || all > only {
				t.Fatalf("page: want \"Stop all marketing\" first and \"Stop only weekly SEO tips\" second:\n%s", page)
			}
			w := e.do(t, "POST", path, form, "confirm=yes&scope="+tt.scope, "Origin", "https://signup.example.com")
			if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), tt.wantPage) {
				t.Fatalf("POST scope=%s: %d, want 200 saying %q\n%s", tt.scope, w.Code, tt.wantPage, w.Body)
			}
			if st := consent.MarketingStatus(e.ledger(t, "ann@example.com"), narrow); st.State != tt.wantNarrow {
				t.Errorf("narrow purpose: got %s, want %s", st.State, tt.wantNarrow)
			}
		})
	}
}

// The opt-out link of a may-email answer, for an imported customer, opens
// a page that speaks of no download, and one click withdraws.
func TestOptOutLinkOfAnImportedCustomer(t *testing.T) {
	m := consenttest.SampleMagnet(t)
	m.ProductCategories = []string{"compliance guides"}
	catalog := consenttest.CatalogOf(t, m)
	e := newEnv(t, func(s *web.Server) { s.Catalog, s.Service.Catalog = catalog, catalog })
	ctx := t.Context()
	f, err := consent.ParseImport("customers.csv", []byte("email,basis,sale_date,sale_reference,category,opt_out_offered\n"+
		"ann@example.com,soft_opt_in,2026-03-01,INV-1,compliance guides,unticked box at checkout\n"), "web shop orders", consent.OriginCustomers)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Import(ctx, f, consent.ImportOptions{Operator: "ops"}); err != nil {
		t.Fatal(err)
	}
	d, err := e.svc.MayEmail(ctx, "ann@example.com", "")
	if err != nil || !d.Allowed {
		t.Fatalf("may-email: %+v, %v", d, err)
	}
	path := strings.TrimPrefix(d.OptOutURL, "https://signup.example.com")
	page := e.do(t, "GET", path, "", "").Body.String()
	if !strings.Contains(page, "This stops <strong>all marketing email from Example Ltd</strong>") || strings.Contains(page, "downloaded") {
		t.Errorf("opt-out page for an imported customer:\n%s", page)
	}
	w := e.do(t, "POST", path, form, "List-Unsubscribe=One-Click")
	if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), "You will get no more marketing email from Example Ltd.") {
		t.Fatalf("one-click: %d\n%s", w.Code, w.Body)
	}
	if d, _ := e.svc.MayEmail(ctx, "ann@example.com", ""); d.Allowed || !strings.HasPrefix(d.Reason, "withdrawn ") {
		t.Errorf("after one-click: %+v", d)
	}
}
