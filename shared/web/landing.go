package web

import (
	"html/template"
	"net/http"

	"github.com/unbundled/unbundled/shared/magnet"
)

// LandingPage renders a demo landing page with one sign-up form per magnet:
// the marketing checkbox unticked, the exact wording, frequency and privacy
// link next to it, and the download promised either way. The local server
// mounts it at GET /.
// Each form carries the consent wording version it was rendered with, and
// the bot traps of trap.go. The forms are rendered by the template the
// snippet of GET /forms/<magnet> uses (forms.go), so the two cannot drift.
func (s *Server) LandingPage(w http.ResponseWriter, r *http.Request) {
	type form struct {
		magnet.Magnet
		Form template.HTML
	}
	var forms []form
	for _, m := range s.Catalog.All() {
		f, err := s.landingForm(r, m)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		forms = append(forms, form{Magnet: m, Form: f})
	}
	style, err := formStyle()
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "landing", map[string]any{"Magnets": forms, "FormStyle": style})
}
