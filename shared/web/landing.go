package web

import "net/http"

// LandingPage renders a demo landing page with one sign-up form per magnet:
// the marketing checkbox unticked, the exact wording, frequency and privacy
// link next to it, and the download promised either way. The local server
// mounts it at GET /.
func (s *Server) LandingPage(w http.ResponseWriter, r *http.Request) {
	render(w, r, http.StatusOK, "landing", map[string]any{"Magnets": s.Catalog.All(), "Action": "/signup"})
}
