package main_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// Every page and email the browser tests reach is audited where it stands:
// at a phone's width and a desktop's, axe-core finds no serious or critical
// violation, nothing scrolls sideways, and a screenshot of the viewport is
// saved for people to look at.

// axePath is axe-core's browser build, installed by `make tools` from
// infra/tools/package.json (the test runs in infra/local).
const axePath = "../tools/node_modules/axe-core/axe.min.js"

// screenshotsEnv names the folder screenshots go to; without it they go to
// a temporary folder that is removed after the test.
const screenshotsEnv = "UNBUNDLED_SCREENSHOTS"

// widths are the viewports every page is checked at: a small phone and a
// laptop. Screenshots show the viewport, not the whole page, to stay small.
var widths = []struct{ w, h int64 }{{375, 812}, {1280, 800}}

var axeScript = sync.OnceValues(func() (string, error) {
	b, err := os.ReadFile(axePath)
	if err != nil {
		return "", err
	}
	return string(b), nil
})

// axeSource is axe-core's script; a missing one fails the test naming the
// target that installs it.
func axeSource(t *testing.T) string {
	t.Helper()
	src, err := axeScript()
	if err != nil {
		t.Fatalf("axe-core is missing (%v): run `make tools`, which installs it into infra/tools/node_modules", err)
	}
	return src
}

// screenshotDir is where this test writes its screenshots.
func screenshotDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv(screenshotsEnv)
	if dir == "" {
		return t.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("%s: %v", screenshotsEnv, err)
	}
	return dir
}

// auditor checks pages in one browser tab and saves their screenshots.
type auditor struct {
	ctx context.Context
	dir string
	// emails serves the local server's emails for their audit (emailViewer).
	emails string
}

// newAuditor audits pages in the tab ctx; base is the local server's URL.
func newAuditor(t *testing.T, ctx context.Context, base string) *auditor {
	t.Helper()
	axeSource(t) // fail before any step if it is missing
	a := &auditor{ctx: ctx, dir: screenshotDir(t), emails: emailViewer(t, base)}
	t.Cleanup(func() {
		if !t.Failed() {
			t.Logf("screenshots in %s", a.dir)
		}
	})
	return a
}

// emailViewer serves the HTML part of each local mailbox message at /<id>
// exactly as the mailbox's own page for it does (/_local/mailbox/<id>/html),
// but without its "sandbox" policy: a sandboxed page runs no timers, not
// even those of a script DevTools adds, so axe-core cannot finish there.
// Scripts of the email itself stay forbidden (script-src none).
func emailViewer(t *testing.T, base string) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		resp, err := http.Get(base + "/_local/mailbox" + r.URL.Path + "/html")
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		h := w.Header()
		h.Set("Content-Type", resp.Header.Get("Content-Type"))
		h.Set("Content-Security-Policy", "default-src 'none'; img-src data:; style-src 'unsafe-inline'")
		h.Set("Referrer-Policy", "no-referrer")
		w.WriteHeader(resp.StatusCode)
		_, _ = io.Copy(w, resp.Body)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// email audits the HTML part of message m as <name>, waiting first until
// the XPath want is visible on it.
func (a *auditor) email(t *testing.T, m mail, name, want string) {
	t.Helper()
	visit(t, a.ctx, a.emails+"/"+m.ID, want)
	a.check(t, name)
}

// violation is one axe-core rule a page breaks, with up to five of the
// elements that break it.
type violation struct {
	ID      string   `json:"id"`
	Impact  string   `json:"impact"`
	Help    string   `json:"help"`
	Targets []string `json:"targets"`
}

func (v violation) String() string {
	return fmt.Sprintf("%s (%s: %s) at %s", v.ID, v.Impact, v.Help, strings.Join(v.Targets, ", "))
}

// runAxe runs axe-core on the document and returns its serious and critical
// violations. Frames are left out: the mailbox's preview frame is a sandbox
// without scripts, and each email is audited on its own page.
const runAxe = `(async () => {
  const r = await axe.run(document, {iframes: false, resultTypes: ["violations"]});
  return r.violations
    .filter(v => v.impact === "serious" || v.impact === "critical")
    .map(v => ({id: v.id, impact: v.impact, help: v.help,
      targets: v.nodes.slice(0, 5).map(n => n.target.join(" "))}));
})()`

// axeTimeout bounds one axe-core run (a second or two on a page here).
const axeTimeout = 30 * time.Second

// overflow is how many pixels the page is wider than its viewport.
const overflow = `document.documentElement.scrollWidth - document.documentElement.clientWidth`

// overflowing names up to five of the innermost elements that reach past
// the viewport's right edge, to say what makes a page scroll sideways.
const overflowing = `(() => {
  const edge = document.documentElement.clientWidth + 0.5;
  const past = e => Math.max(e.getBoundingClientRect().right, e.getBoundingClientRect().left + e.scrollWidth) > edge;
  return [...document.body.querySelectorAll("*")]
    .filter(e => past(e) && ![...e.children].some(past))
    .slice(0, 5)
    .map(e => e.tagName.toLowerCase() + (e.className ? "." + String(e.className).trim().replace(/\s+/g, ".") : "") +
      " \"" + (e.textContent || "").trim().slice(0, 40) + "\" (" + Math.round(e.getBoundingClientRect().right) + " px)");
})()`

var shotName = regexp.MustCompile(`^[a-z0-9-]+$`)

// check audits the page the tab shows now, at each width, and saves
// <name>-<width>.png; each problem found fails the test.
func (a *auditor) check(t *testing.T, name string) {
	t.Helper()
	for _, p := range a.problems(t, name) {
		t.Error(p)
	}
}

// problems audits the page the tab shows now, at each width, saves
// <name>-<width>.png and returns what it found wrong. Page scripts stay as
// the tab has them; only for the audit are they allowed, so that axe-core
// (run by DevTools, which the pages' Content-Security-Policy does not
// restrict) can use timers.
func (a *auditor) problems(t *testing.T, name string) []string {
	t.Helper()
	if !shotName.MatchString(name) {
		t.Fatalf("screenshot name %q: want a-z, 0-9 and -", name)
	}
	scriptsOff, _ := a.ctx.Value(scriptsOffKey{}).(bool)
	if scriptsOff {
		if _, err := chromedp.Call(a.ctx, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: false}); err != nil {
			t.Fatalf("%s: allow scripts for axe-core: %v", name, err)
		}
		defer func() {
			if _, err := chromedp.Call(a.ctx, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true}); err != nil {
				t.Errorf("%s: disallow scripts again: %v", name, err)
			}
		}()
	}
	loaded, err := chromedp.Run(a.ctx, chromedp.Evaluate[bool](`typeof window.axe === "object"`))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if !loaded {
		if _, err := chromedp.Run(a.ctx, chromedp.Evaluate[chromedp.Void](axeSource(t)+"\n;void 0")); err != nil {
			t.Fatalf("%s: load axe-core: %v", name, err)
		}
	}
	location, err := chromedp.Run(a.ctx, chromedp.Location())
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	var found []string
	for _, size := range widths {
		err := chromedp.Do(a.ctx, chromedp.EmulateViewport(size.w, size.h))
		if err != nil {
			t.Fatalf("%s at %d px: set the viewport: %v", name, size.w, err)
		}
		axeCtx, cancel := context.WithTimeout(a.ctx, axeTimeout)
		violations, err := chromedp.Run(axeCtx, chromedp.Evaluate[[]violation](runAxe, chromedp.EvalAwaitPromise))
		cancel()
		if err != nil {
			t.Fatalf("%s at %d px: run axe-core (within %s): %v", name, size.w, axeTimeout, err)
		}
		for _, v := range violations {
			found = append(found, fmt.Sprintf("%s (%s) at %d px: axe-core: %s", name, location, size.w, v))
		}
		wider, err := chromedp.Run(a.ctx, chromedp.Evaluate[float64](overflow))
		if err != nil {
			t.Fatalf("%s at %d px: measure: %v", name, size.w, err)
		}
		if wider > 0 {
			culprits, _ := chromedp.Run(a.ctx, chromedp.Evaluate[[]string](overflowing))
			found = append(found, fmt.Sprintf("%s (%s) at %d px: the page scrolls sideways by %.0f px; reaching past the edge: %s",
				name, location, size.w, wider, strings.Join(culprits, "; ")))
		}
		png, err := chromedp.Call(a.ctx, page.CaptureScreenshot, page.CaptureScreenshotParams{Format: page.CaptureScreenshotFormatPng})
		if err != nil {
			t.Fatalf("%s at %d px: screenshot: %v", name, size.w, err)
		}
		file := filepath.Join(a.dir, fmt.Sprintf("%s-%d.png", name, size.w))
		if err := os.WriteFile(file, png.Data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return found
}

// TestBrowserAuditFindsProblems checks the checker: on a page with an image
// without a text alternative, text too faint to read and a box wider than
// a phone, it reports all three, with scripts off as in the other tests.
func TestBrowserAuditFindsProblems(t *testing.T) {
	ctx := browser(t) // first: skips under -short
	bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Bad page</title></head>
<body><main><h1>Bad page</h1><img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=">
<p style="color: #cccccc">Too faint to read.</p><div style="width: 600px">Too wide for a phone.</div></main></body></html>`)
	}))
	t.Cleanup(bad.Close)
	a := newAuditor(t, ctx, bad.URL)
	a.dir = t.TempDir() // not among the real pages' screenshots
	visit(t, ctx, bad.URL+"/", `//h1`)
	found := strings.Join(a.problems(t, "audit-self-test"), "\n")
	for _, want := range []string{"at 375 px: axe-core: image-alt (critical", "at 1280 px: axe-core: color-contrast (serious", "at 375 px: the page scrolls sideways", "div \"Too wide for a phone.\""} {
		if !strings.Contains(found, want) {
			t.Errorf("the audit missed %q; it found:\n%s", want, found)
		}
	}
	if strings.Contains(found, "at 1280 px: the page scrolls sideways") {
		t.Errorf("600 px is not too wide at 1280 px:\n%s", found)
	}
}
