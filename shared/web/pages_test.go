package web

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
)

func TestReadableTimes(t *testing.T) {
	tests := []struct{ in, want string }{
		{"consented on 2026-11-28T10:00:00Z via checkbox, confirmed on 2026-12-02T14:05:09Z",
			"consented on 28 November 2026, 10:00 UTC via checkbox, confirmed on 2 December 2026, 14:05 UTC"},
		{"awaiting confirmation since 2026-11-28T10:00:00.123456789Z", "awaiting confirmation since 28 November 2026, 10:00 UTC"},
		{"no time here", "no time here"},
		{"2026-13-45T99:00:00Z stays as it is", "2026-13-45T99:00:00Z stays as it is"},
	}
	for _, tt := range tests {
		if got := readableTimes(tt.in); got != tt.want {
			t.Errorf("readableTimes(%q): got %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestProblemsUseLabelsInFormOrder(t *testing.T) {
	got := problems(map[string]string{"body": "b", "name": "n", "email": "e", "website": "w", "magnet": "m"})
	var labels []string
	for _, p := range got {
		labels = append(labels, p.Label+": "+p.Message)
	}
	want := []string{"Download: m", "Email address: e", "First name: n", "The form: b", "The form: w"}
	if !slices.Equal(labels, want) {
		t.Errorf("got %q, want %q", labels, want)
	}
}

// The generic error page (a hand-written form with no download named)
// names fields by their labels.
func TestGenericSignupErrorPageUsesLabels(t *testing.T) {
	s, _ := testServer()
	w := httptest.NewRecorder()
	s.fail(w, httptest.NewRequest("POST", "/signup", nil), invalid("magnet", "Choose which download you want."))
	if body := w.Body.String(); w.Code != http.StatusBadRequest || !strings.Contains(body, "<strong>Download</strong>: Choose which download you want.") || strings.Contains(body, "<strong>magnet</strong>") {
		t.Errorf("got %d\n%s", w.Code, body)
	}
}
