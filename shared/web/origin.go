package web

import (
	"log/slog"
	"net/http"
	"net/url"
	"strings"

	"github.com/unbundled/unbundled/shared/magnet"
)

// Which browser pages may post here.
//
// A browser says which page a POST comes from in Origin; an old browser that
// sends no Origin may still send Sec-Fetch-Site and Referer. A request with
// none of the three is not from a web page (an API client, a mail provider's
// one-click unsubscribe) and is allowed: it carries no visitor's cookies or
// trust that a forged post could borrow. Otherwise:
//
//   - Origin "null" (sandboxed frames, saved files, data: URLs, and any form
//     on a page served with Referrer-Policy: no-referrer) is refused.
//   - An Origin is allowed if it is the service's own origin or one the
//     endpoint accepts (for /signup: the magnet's allowed_origins).
//   - Without Origin, Sec-Fetch-Site "cross-site" is refused ("same-origin",
//     "same-site" and "none", typed by the user, pass), and a Referer is
//     held to the same rule as an Origin.

// Reasons a source is refused, logged as "reason".
const (
	refusedOrigin       = "origin"
	refusedSecFetchSite = "sec_fetch_site"
	refusedReferer      = "referer"
)

// maxLoggedOrigin caps the client-sent origin written to the log.
const maxLoggedOrigin = 100

// originRefusal is errOriginNotAllowed with where the visitor can go instead.
type originRefusal struct {
	back     string // a link to the page with the right form, or ""
	backText string
	// signup: a sign-up was refused (the site owner can allow their page in
	// the magnet's allowed_origins), not a post to one of our own pages.
	signup bool
	// origin is the page's origin as the browser stated it, if it is a
	// plain scheme://host; shown so a site owner knows what to allow.
	origin string
}

func (e *originRefusal) Error() string { return errOriginNotAllowed.Error() }
func (e *originRefusal) Unwrap() error { return errOriginNotAllowed }

// sourceRefusal reports why r may not post here, or "" if it may, and the
// origin the request came from, if it says. The service's own origin is
// always allowed, other origins only if allowed reports true.
func (s *Server) sourceRefusal(r *http.Request, allowed func(origin string) bool) (reason, origin string) {
	ok := func(origin string) bool {
		own := s.ownOrigin(r)
		return origin != "" && origin != "null" && (own != "" && strings.EqualFold(origin, own) || allowed(origin))
	}
	if origins := r.Header.Values("Origin"); len(origins) > 1 || len(origins) == 1 && origins[0] != "" {
		if len(origins) > 1 || !ok(origins[0]) {
			return refusedOrigin, origins[0]
		}
		return "", origins[0]
	}
	if strings.EqualFold(r.Header.Get("Sec-Fetch-Site"), "cross-site") {
		return refusedSecFetchSite, ""
	}
	if referer := r.Header.Get("Referer"); referer != "" {
		origin := refererOrigin(referer)
		if !ok(origin) {
			return refusedReferer, origin
		}
		return "", origin
	}
	return "", ""
}

// refererOrigin is the scheme and host of a Referer URL, or "" if it has none.
// The path and query are dropped: they may hold tokens or personal data.
func refererOrigin(referer string) string {
	u, err := url.Parse(referer)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return ""
	}
	return u.Scheme + "://" + u.Host
}

// signupSource checks a sign-up for magnet m (known: in the catalog) against
// the service's own origin and m's allowed_origins. A refusal is logged and
// returned as an *originRefusal offering the magnet's site.
func (s *Server) signupSource(r *http.Request, m magnet.Magnet, known bool) error {
	reason, origin := s.sourceRefusal(r, func(origin string) bool { return known && m.AllowsOrigin(origin) })
	if reason == "" {
		return nil
	}
	refusal := &originRefusal{signup: true, origin: shownOrigin(origin)}
	if known && len(m.AllowedOrigins) > 0 {
		site := m.AllowedOrigins[0]
		refusal.back, refusal.backText = site, "Sign up on "+strings.TrimPrefix(strings.TrimPrefix(site, "https://"), "http://")
	}
	s.logRefusal(r, reason, origin, magnetLabel(m, known))
	return refusal
}

// shownOrigin is origin if it is a plain, short scheme://host that can be
// shown on the refusal page, else "".
func shownOrigin(origin string) string {
	if len(origin) > maxLoggedOrigin || refererOrigin(origin) != origin {
		return ""
	}
	return origin
}

// ownSource checks a post to this service's own pages (withdraw, confirm,
// unsubscribe), which only the service's own origin may send. A refusal is
// logged and returned as an *originRefusal offering back, the page with the
// right form, under backText.
func (s *Server) ownSource(r *http.Request, back, backText string) error {
	reason, origin := s.sourceRefusal(r, func(string) bool { return false })
	if reason == "" {
		return nil
	}
	s.logRefusal(r, reason, origin, "")
	return &originRefusal{back: back, backText: backText}
}

// logRefusal logs a refused post: the origin and magnet, never an address,
// IP or token.
func (s *Server) logRefusal(r *http.Request, reason, origin, magnetID string) {
	if len(origin) > maxLoggedOrigin {
		origin = origin[:maxLoggedOrigin]
	}
	attrs := []slog.Attr{
		slog.String("metric", "origin_refused"), slog.String("reason", reason),
		slog.String("origin", origin), slog.String("path", r.URL.Path),
		slog.String("request_id", RequestID(r.Context())),
	}
	if magnetID != "" {
		attrs = append(attrs, slog.String("magnet", magnetID))
	}
	s.logger().LogAttrs(r.Context(), slog.LevelWarn, "origin refused", attrs...)
}

// magnetLabel is the magnet id to log: the catalog's id, or "unknown" for a
// name the client made up.
func magnetLabel(m magnet.Magnet, known bool) string {
	if !known {
		return "unknown"
	}
	return m.ID
}

func (s *Server) ownOrigin(r *http.Request) string {
	u, err := url.Parse(s.Service.LinkBase(r.Context()))
	if err != nil || u.Host == "" {
		return ""
	}
	return u.Scheme + "://" + u.Host
}

// corsOrigin reports whether origin is listed by any configured magnet, and
// so may read answers to its cross-origin JSON sign-ups.
func (s *Server) corsOrigin(origin string) bool {
	if origin == "" {
		return false
	}
	for _, m := range s.Catalog.All() {
		if m.AllowsOrigin(origin) {
			return true
		}
	}
	return false
}
