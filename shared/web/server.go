package web

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/unbundled/unbundled/shared/consent"
	"github.com/unbundled/unbundled/shared/magnet"
)

// maxBodyBytes caps every request body; sign-up and unsubscribe bodies are tiny.
const maxBodyBytes = 16 << 10

// maxUserAgent caps the user agent kept as evidence.
const maxUserAgent = 512

// Server serves the public endpoints.
type Server struct {
	Service *consent.Service
	Catalog *magnet.Catalog
	Logger  *slog.Logger
	// FormMinAge is how long after a sign-up form we rendered was stamped a
	// person can plausibly send it. A sign-up whose form stamp is younger is
	// taken for a bot: answered as accepted, nothing stored or sent (see
	// trap.go). Used as is; 0 (or less) means no minimum. Sign-ups without
	// a stamp are not affected.
	FormMinAge time.Duration
	// AdminAllowed decides whether a request may use the admin routes
	// (/admin/...): on Lambda the admin function allows what API Gateway's
	// IAM authoriser let through; the local server passes LoopbackOnly. Nil
	// refuses every admin request.
	AdminAllowed func(*http.Request) bool
}

type requestIDKey struct{}

// WithRequestID returns a context carrying the request id recorded as
// evidence. The Lambda adapter sets API Gateway's id; otherwise Middleware
// makes one.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey{}, id)
}

// RequestID returns the request id in ctx, or "".
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// Middleware adds a request id (unless one is set), security headers, a body
// size limit and one structured log line per request. The log line holds no
// personal data: no address, IP, user agent or token.
func (s *Server) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		if RequestID(r.Context()) == "" {
			r = r.WithContext(WithRequestID(r.Context(), newRequestID()))
		}
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		// same-origin, not no-referrer: under no-referrer browsers send
		// "Origin: null" on our own form posts, which are then refused. Link
		// tokens still never leave the site in a Referer.
		h.Set("Referrer-Policy", "same-origin")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Cache-Control", "no-store")
		h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
		r.Body = http.MaxBytesReader(w, r.Body, bodyLimit(r))
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(rec, r)
		s.logger().LogAttrs(r.Context(), slog.LevelInfo, "request",
			slog.String("method", r.Method), slog.String("path", r.URL.Path),
			slog.Int("status", rec.status), slog.Duration("duration", time.Since(start)),
			slog.String("request_id", RequestID(r.Context())))
	})
}

func (s *Server) logger() *slog.Logger {
	if s.Logger == nil {
		return slog.Default()
	}
	return s.Logger
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

func newRequestID() string {
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("crypto/rand failed: %v", err))
	}
	return hex.EncodeToString(b)
}

// evidence takes the source IP from the connection (on Lambda: API Gateway's
// requestContext.http.sourceIp, which the adapter puts in RemoteAddr), never
// from X-Forwarded-For or other client-controlled headers.
func evidence(r *http.Request) consent.Evidence {
	ip := r.RemoteAddr
	if host, _, err := net.SplitHostPort(ip); err == nil {
		ip = host
	}
	ua := strings.Join(r.Header.Values("User-Agent"), ", ")
	if len(ua) > maxUserAgent {
		ua = ua[:maxUserAgent]
	}
	return consent.Evidence{SourceIP: ip, UserAgent: ua, RequestID: RequestID(r.Context())}
}

// orNotFound serves mux, whose routes have paths (route patterns without
// their methods), and answers every other path with the not-found page
// (404; JSON for JSON requests and under /admin/). A path a route has, but
// not for the request's method, is left to mux (405).
func (s *Server) orNotFound(mux http.Handler, paths []string) http.Handler {
	known := http.NewServeMux()
	seen := map[string]bool{}
	for _, p := range paths {
		if !seen[p] {
			seen[p] = true
			known.Handle(p, mux)
		}
	}
	known.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/admin/") {
			s.adminFail(w, r, errNotFound)
			return
		}
		s.fail(w, r, errNotFound)
	})
	return known
}

// link is an absolute link to path on this service, so pages and redirects
// also work behind a base URL with a path prefix.
func (s *Server) link(r *http.Request, path string) string {
	return s.Service.LinkBase(r.Context()) + path
}
