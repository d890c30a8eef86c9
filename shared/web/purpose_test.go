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
