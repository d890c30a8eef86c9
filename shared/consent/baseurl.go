package consent

import "context"

type baseURLKey struct{}

// WithBaseURL returns a context whose emailed links start with baseURL
// instead of Service.BaseURL. The Lambda adapter uses it when no public base
// URL is configured, with the domain API Gateway reports for the request.
func WithBaseURL(ctx context.Context, baseURL string) context.Context {
	return context.WithValue(ctx, baseURLKey{}, baseURL)
}

func (s *Service) baseURL(ctx context.Context) string {
	if u, ok := ctx.Value(baseURLKey{}).(string); ok && u != "" {
		return u
	}
	return s.BaseURL
}

// LinkBase is what links for this request start with: the request's base URL
// if the adapter set one (WithBaseURL), else Service.BaseURL.
func (s *Service) LinkBase(ctx context.Context) string { return s.baseURL(ctx) }
