package main

// The consent dashboard of the local server: /_local/dashboard (a page of
// tables and server-rendered SVG charts, no scripts) and
// /_local/dashboard.json. The figures come from the ledger and the delivery
// jobs (consent.Service.TallyStored), plus what leaves nothing in the
// ledger — sign-up posts refused (429) or trapped as bots — which the web
// layer reports through consent.Metrics and this server keeps in memory.

import (
	"context"
	"embed"
	"fmt"
	"html/template"
	"log/slog"
	"math"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/unbundled/unbundled/shared/consent"
	"github.com/unbundled/unbundled/shared/magnet"
)

// memoryMetrics is the local server's consent.Metrics: it keeps the
// counts of refused and trapped sign-up posts, per magnet and day, in
// memory — they start again at zero when the server restarts. The
// ledger-derived counts it is also told are dropped: the dashboard reads
// those from the store, where they survive restarts.
type memoryMetrics struct {
	mu    sync.Mutex
	since time.Time
	tally consent.Tally
}

func newMemoryMetrics(now time.Time) *memoryMetrics { return &memoryMetrics{since: now.UTC()} }

// Record implements consent.Metrics.
func (m *memoryMetrics) Record(_ context.Context, at time.Time, magnetID string, c consent.Counts) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.tally.Add(at, magnetID, consent.Counts{RateLimited: c.RateLimited, BotTrapped: c.BotTrapped})
}

// addTo adds the counts kept to t.
func (m *memoryMetrics) addTo(t *consent.Tally) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, f := range m.tally.Figures() {
		day, _ := time.Parse(consent.DayLayout, f.Day)
		t.Add(day, f.Magnet, f.Counts)
	}
}

//go:embed templates/dashboard.html
var dashboardFS embed.FS

var dashboardPage = template.Must(template.New("dashboard.html").Funcs(template.FuncMap{
	"tickedPercent":    func(c consent.Counts) string { return percent(c.TickedPercent()) },
	"confirmedPercent": func(c consent.Counts) string { return percent(c.ConfirmedPercent()) },
	"withdrawn":        withdrawn,
}).ParseFS(dashboardFS, "templates/dashboard.html"))

// percent is a percentage as the page shows it: whole, or "n/a" when
// there is nothing to divide by.
func percent(p float64, ok bool) string {
	if !ok {
		return "n/a"
	}
	return strconv.FormatFloat(p, 'f', 0, 64) + "%"
}

const (
	defaultDashboardDays = 30
	maxDashboardDays     = 400
)

// dashboardHandler serves the dashboard for the `days` UTC days up to
// today (default 30): view "json" the figures as JSON, otherwise the page.
func dashboardHandler(service *consent.Service, metrics *memoryMetrics, catalog *magnet.Catalog, view string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		days, err := strconv.Atoi(r.URL.Query().Get("days"))
		if err != nil || days < 1 || days > maxDashboardDays {
			days = defaultDashboardDays
		}
		var tally consent.Tally
		if err := service.TallyStored(r.Context(), &tally); err != nil {
			slog.ErrorContext(r.Context(), "dashboard", "error", err.Error())
			writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "could not read the ledger"})
			return
		}
		metrics.addTo(&tally)
		d := newDashboard(tally.Figures(), catalog, time.Now().UTC(), days)
		d.MetricsSince = metrics.since
		if view == "json" {
			writeJSON(w, http.StatusOK, d.json())
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		if err := dashboardPage.Execute(w, d); err != nil {
			slog.ErrorContext(r.Context(), "render dashboard", "error", err.Error())
		}
	})
}

// dashboard is what the page shows.
type dashboard struct {
	From, To     string // the period, UTC days
	Days         int
	DayChoices   []int
	MetricsSince time.Time
	Magnets      []magnetDashboard
}

// magnetDashboard is one magnet's part: its figures per day (every day of
// the period, oldest first; zero where nothing happened), their total, and
// the charts.
type magnetDashboard struct {
	ID, Title  string
	Configured bool
	Days       []consent.DayFigures
	Total      consent.Counts
	Charts     []chart
}

// Active are the days with any figure, newest first: the table's rows.
func (m magnetDashboard) Active() []consent.DayFigures {
	var out []consent.DayFigures
	for _, d := range slices.Backward(m.Days) {
		if d.Counts != (consent.Counts{}) {
			out = append(out, d)
		}
	}
	return out
}

// withdrawn is every withdrawal of c, whatever the method.
func withdrawn(c consent.Counts) int {
	return c.WithdrawnOneClick + c.WithdrawnPage + c.WithdrawnComplaint
}

func newDashboard(figures []consent.DayFigures, catalog *magnet.Catalog, now time.Time, days int) dashboard {
	to := now.Truncate(24 * time.Hour)
	from := to.AddDate(0, 0, -(days - 1))
	d := dashboard{From: from.Format(consent.DayLayout), To: to.Format(consent.DayLayout), Days: days, DayChoices: []int{7, 30, 90, 365}}
	byMagnet := map[string]map[string]consent.Counts{}
	for _, f := range figures {
		if f.Day < d.From || f.Day > d.To {
			continue
		}
		if byMagnet[f.Magnet] == nil {
			byMagnet[f.Magnet] = map[string]consent.Counts{}
		}
		byMagnet[f.Magnet][f.Day] = f.Counts
	}
	// Configured magnets first, in the catalog's order, then any others
	// with figures (magnets since removed, posts naming none).
	var ids []string
	titles := map[string]string{}
	for _, m := range catalog.All() {
		ids, titles[m.ID] = append(ids, m.ID), m.Title
	}
	var others []string
	for id := range byMagnet {
		if _, ok := titles[id]; !ok {
			others = append(others, id)
		}
	}
	slices.Sort(others)
	for _, id := range append(ids, others...) {
		_, configured := titles[id]
		md := magnetDashboard{ID: id, Title: titles[id], Configured: configured}
		for day := from; !day.After(to); day = day.AddDate(0, 0, 1) {
			key := day.Format(consent.DayLayout)
			c := byMagnet[id][key]
			md.Days = append(md.Days, consent.DayFigures{Day: key, Magnet: id, Counts: c})
			md.Total = md.Total.Plus(c)
		}
		md.Charts = magnetCharts(md, len(d.Magnets))
		d.Magnets = append(d.Magnets, md)
	}
	return d
}

// dashboardJSON is /_local/dashboard.json: the period and, per magnet, its
// total and the days with any figure (oldest first), each figure by its
// metric name.
type dashboardJSON struct {
	From    string               `json:"from"`
	To      string               `json:"to"`
	Magnets []magnetDashboardOut `json:"magnets"`
}

type magnetDashboardOut struct {
	Magnet     string         `json:"magnet"`
	Configured bool           `json:"configured"`
	Total      consent.Counts `json:"total"`
	Days       []dayOut       `json:"days"`
}

type dayOut struct {
	Day string `json:"day"`
	consent.Counts
}

func (d dashboard) json() dashboardJSON {
	out := dashboardJSON{From: d.From, To: d.To, Magnets: []magnetDashboardOut{}}
	for _, m := range d.Magnets {
		mo := magnetDashboardOut{Magnet: m.ID, Configured: m.Configured, Total: m.Total, Days: []dayOut{}}
		for _, day := range m.Days {
			if day.Counts != (consent.Counts{}) {
				mo.Days = append(mo.Days, dayOut{Day: day.Day, Counts: day.Counts})
			}
		}
		out.Magnets = append(out.Magnets, mo)
	}
	return out
}

// chart is one server-rendered bar chart: a bar per day, in a viewBox
// narrow enough that its text stays readable on a 375 px phone.
type chart struct {
	ID          string // unique on the page, for aria-labelledby
	Title, Desc string
	Width       int
	Height      int
	Bars        []bar
	YTicks      []tick
	XLabels     []tick
	Legend      []series
	PlotLeft    float64
	PlotRight   float64
	PlotBottom  float64
}

type bar struct {
	X, Y, W, H float64
	Class      string
	Title      string // the bar's tooltip: day, figure, count
}

type tick struct {
	Pos    float64
	Label  string
	Anchor string // the text-anchor of an x label
}

// series is one figure a chart shows: its name (legend, tooltips) and
// CSS class (colour).
type series struct {
	Name  string
	Class string
	value func(consent.Counts) int
}

const (
	chartWidth  = 360
	chartHeight = 180
	plotLeft    = 30.0
	plotRight   = chartWidth - 6.0
	plotTop     = 8.0
	plotBottom  = chartHeight - 22.0
)

// magnetCharts are the charts for one magnet; n numbers the magnet, for
// unique ids.
func magnetCharts(m magnetDashboard, n int) []chart {
	signups := series{"sign-ups", "s-signups", func(c consent.Counts) int { return c.Signups }}
	ticked := series{"ticked a box", "s-ticked", func(c consent.Counts) int { return c.Ticked }}
	return []chart{
		barChart(fmt.Sprintf("m%d-signups", n), "Sign-ups per day, and how many ticked a box", m.Days, true, signups, ticked),
		barChart(fmt.Sprintf("m%d-withdrawals", n), "Withdrawals per day, by method", m.Days, false,
			series{"one-click", "s-oneclick", func(c consent.Counts) int { return c.WithdrawnOneClick }},
			series{"unsubscribe page", "s-page", func(c consent.Counts) int { return c.WithdrawnPage }},
			series{"complaint", "s-complaint", func(c consent.Counts) int { return c.WithdrawnComplaint }}),
		barChart(fmt.Sprintf("m%d-freebies", n), "Freebies per day: sent, failed, held back by the email cap", m.Days, false,
			series{"sent", "s-sent", func(c consent.Counts) int { return c.FreebiesSent }},
			series{"failed", "s-failed", func(c consent.Counts) int { return c.FreebiesFailed }},
			series{"limited", "s-limited", func(c consent.Counts) int { return c.FreebiesLimited }}),
		barChart(fmt.Sprintf("m%d-refused", n), "Bounces, and sign-up posts refused or trapped, per day", m.Days, false,
			series{"bounced", "s-bounced", func(c consent.Counts) int { return c.Bounced }},
			series{"rate-limited", "s-ratelimited", func(c consent.Counts) int { return c.RateLimited }},
			series{"bot-trapped", "s-trapped", func(c consent.Counts) int { return c.BotTrapped }}),
	}
}

// barChart draws one bar per day. Stacked (overlay false), each day's
// series sit on top of each other; overlaid, the second series is drawn
// narrower inside the first (it is a part of it, as ticked of sign-ups).
func barChart(id, title string, days []consent.DayFigures, overlay bool, ss ...series) chart {
	c := chart{ID: id, Title: title, Width: chartWidth, Height: chartHeight, Legend: ss,
		PlotLeft: plotLeft, PlotRight: plotRight, PlotBottom: plotBottom}
	top := 0
	totals := make([]int, len(ss))
	for _, d := range days {
		sum := 0
		for i, s := range ss {
			v := s.value(d.Counts)
			totals[i] += v
			if overlay {
				sum = max(sum, v)
			} else {
				sum += v
			}
		}
		top = max(top, sum)
	}
	top = niceCeiling(top)
	scale := (plotBottom - plotTop) / float64(top)
	slot := (plotRight - plotLeft) / float64(max(len(days), 1))
	for i, d := range days {
		x := plotLeft + float64(i)*slot
		base := plotBottom
		for j, s := range ss {
			v := s.value(d.Counts)
			if v == 0 {
				continue
			}
			w, bx := slot*0.8, x+slot*0.1
			if overlay && j > 0 {
				w, bx = slot*0.4, x+slot*0.3
			}
			h := float64(v) * scale
			y := base - h
			if !overlay {
				base = y
			}
			c.Bars = append(c.Bars, bar{X: round(bx), Y: round(y), W: round(w), H: round(h), Class: s.Class,
				Title: fmt.Sprintf("%s: %d %s", d.Day, v, s.Name)})
		}
	}
	yTicks := []int{0, top}
	if top >= 2 {
		yTicks = []int{0, top / 2, top} // niceCeiling made top even
	}
	for _, v := range yTicks {
		c.YTicks = append(c.YTicks, tick{Pos: round(plotBottom - float64(v)*scale), Label: strconv.Itoa(v)})
	}
	if len(days) > 0 {
		// The first day, the middle one and the last, each label kept
		// inside the chart.
		for _, i := range slices.Compact([]int{0, len(days) / 2, len(days) - 1}) {
			day, _ := time.Parse(consent.DayLayout, days[i].Day)
			t := tick{Pos: round(plotLeft + (float64(i)+0.5)*slot), Label: day.Format("2 Jan"), Anchor: "middle"}
			switch {
			case i == 0:
				t.Pos, t.Anchor = plotLeft, "start"
			case i == len(days)-1:
				t.Pos, t.Anchor = plotRight, "end"
			}
			c.XLabels = append(c.XLabels, t)
		}
		c.Desc = fmt.Sprintf("One bar per day from %s to %s.", days[0].Day, days[len(days)-1].Day)
	}
	for i, s := range ss {
		c.Desc += fmt.Sprintf(" %s: %d in total.", s.Name, totals[i])
	}
	return c
}

// niceCeiling is the chart's top: at least 1, and even above 1 so the
// middle tick is a whole number.
func niceCeiling(n int) int {
	if n <= 1 {
		return 1
	}
	return n + n%2
}

func round(f float64) float64 { return math.Round(f*10) / 10 }
