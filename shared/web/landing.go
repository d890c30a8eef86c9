package web

import (
	"html/template"
	"net/http"

	"github.com/unbundled/unbundled/shared/consent"
	"github.com/unbundled/unbundled/shared/magnet"
)

// LandingPage renders a demo landing page with one sign-up form per magnet:
// the marketing checkbox unticked, the exact wording, frequency and privacy
// link next to it, and the download promised either way. The local server
// mounts it at GET /.
// Each form carries the consent wording version it was rendered with, and
// the bot traps of trap.go.
func (s *Server) LandingPage(w http.ResponseWriter, r *http.Request) {
	type form struct {
		magnet.Magnet
		Version string
		Trap    template.HTML
		Notice  noticeLink
	}
	var forms []form
	for _, m := range s.Catalog.All() {
		trap, err := s.trapFields(m.ID)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		forms = append(forms, form{Magnet: m, Version: consent.NewWordingVersion(m).ID, Trap: trap, Notice: s.noticeLinkFor(r, m)})
	}
	s.render(w, r, http.StatusOK, "landing", map[string]any{"Magnets": forms, "Action": "/signup"})
}
