package web

import (
	"bytes"
	"embed"
	"html/template"
	"net/http"
)

//go:embed templates/*.html
var templateFS embed.FS

// pages holds one template per page, each the layout plus the page's blocks.
var pages = func() map[string]*template.Template {
	layout := template.Must(template.ParseFS(templateFS, "templates/layout.html"))
	names := []string{"landing", "signup_errors", "thanks", "unsubscribe", "unsubscribed", "bad_link", "failure", "not_allowed", "withdraw", "withdraw_sent", "confirm", "confirmed", "confirm_expired", "confirm_resent", "nothing_to_confirm"}
	m := make(map[string]*template.Template, len(names))
	for _, n := range names {
		m[n] = template.Must(template.Must(layout.Clone()).ParseFS(templateFS, "templates/"+n+".html"))
	}
	return m
}()

// render writes a full HTML page. It renders into a buffer first so a
// template failure can still become a clean 500.
func render(w http.ResponseWriter, r *http.Request, status int, page string, data any) {
	var buf bytes.Buffer
	if err := pages[page].ExecuteTemplate(&buf, "layout", data); err != nil {
		http.Error(w, "Something went wrong. Please try again later.", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(buf.Bytes())
	}
}
