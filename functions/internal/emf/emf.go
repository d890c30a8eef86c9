// Package emf reports the consent dashboard's counts (consent.Counts) as
// CloudWatch metrics, in the embedded metric format: one JSON log line per
// magnet and write, which CloudWatch Logs turns into metrics in namespace
// Unbundled with the dimension Magnet. No API call, no extra permission;
// the lines go to the function's log, which Lambda sends to CloudWatch.
//
// A line holds a magnet id, metric names, counts and a time — never an
// address, IP address, name or token.
package emf

import (
	"context"
	"encoding/json"
	"io"
	"sync"
	"time"

	"github.com/unbundled/unbundled/shared/consent"
)

// Namespace is the CloudWatch namespace of every metric written here.
const Namespace = "Unbundled"

// Dimension is the one dimension of every metric: the magnet's id.
const Dimension = "Magnet"

// Writer writes embedded metric format lines. It implements
// consent.Metrics and is safe for concurrent use.
type Writer struct {
	mu  sync.Mutex
	out io.Writer
}

// New returns a Writer writing to out (on Lambda: os.Stdout).
func New(out io.Writer) *Writer { return &Writer{out: out} }

type metric struct {
	Name string `json:"Name"`
	Unit string `json:"Unit"`
}

type directive struct {
	Namespace  string     `json:"Namespace"`
	Dimensions [][]string `json:"Dimensions"`
	Metrics    []metric   `json:"Metrics"`
}

type metadata struct {
	Timestamp         int64       `json:"Timestamp"` // milliseconds since the epoch
	CloudWatchMetrics []directive `json:"CloudWatchMetrics"`
}

// Line returns the embedded metric format line (without its newline) for
// c's non-zero figures for magnetID at time at, or nil if every figure is
// zero. An empty magnet id is written as consent.NoMagnet: CloudWatch
// drops metrics with an empty dimension value.
func Line(at time.Time, magnetID string, c consent.Counts) []byte {
	if magnetID == "" {
		magnetID = consent.NoMagnet
	}
	root := map[string]any{Dimension: magnetID}
	d := directive{Namespace: Namespace, Dimensions: [][]string{{Dimension}}}
	for _, n := range c.Named() {
		if n.Value == 0 {
			continue
		}
		d.Metrics = append(d.Metrics, metric{Name: n.Name, Unit: "Count"})
		root[n.Name] = n.Value
	}
	if len(d.Metrics) == 0 {
		return nil
	}
	root["_aws"] = metadata{Timestamp: at.UnixMilli(), CloudWatchMetrics: []directive{d}}
	line, err := json.Marshal(root)
	if err != nil {
		panic("emf: marshal metrics: " + err.Error()) // strings and ints only: cannot happen
	}
	return line
}

// Record implements consent.Metrics: it writes c's non-zero figures for
// magnetID as one line. A failed write is dropped: metrics never fail a
// request.
func (w *Writer) Record(_ context.Context, at time.Time, magnetID string, c consent.Counts) {
	line := Line(at, magnetID, c)
	if line == nil {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	_, _ = w.out.Write(append(line, '\n'))
}
