// Command sesstandin runs the SES v2 stand-in (package sesstandin) so the
// local server can send to it with -mailer ses:
//
//	go run ./infra/cmd/sesstandin -max-rate 2 -fail-every 5
//	AWS_ENDPOINT_URL_SESV2=http://127.0.0.1:8025 AWS_REGION=eu-west-2 \
//	AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test go run ./infra/local -mailer ses
//
// GET /_standin/stats and GET /_standin/sent show what it did; the final
// counts are printed on Ctrl+C.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/unbundled/unbundled/infra/testkit/sesstandin"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "sesstandin:", err)
		os.Exit(1)
	}
}

func run() error {
	addr := flag.String("addr", "127.0.0.1:8025", "address to listen on")
	maxRate := flag.Float64("max-rate", 0, "maximum SendEmail calls per second before 429 TooManyRequestsException (0: unlimited)")
	failEvery := flag.Int("fail-every", 0, "answer every Nth call with 500 InternalFailure (0: never)")
	reject := flag.String("reject", "", "comma-separated recipient addresses answered with 400 MessageRejected")
	flag.Parse()

	var rejected []string
	for _, a := range strings.Split(*reject, ",") {
		if a = strings.TrimSpace(a); a != "" {
			rejected = append(rejected, a)
		}
	}
	standin := sesstandin.New(sesstandin.Options{MaxPerSecond: *maxRate, FailEvery: *failEvery, RejectRecipients: rejected})

	mux := http.NewServeMux()
	mux.Handle("/", standin.Handler())
	mux.HandleFunc("GET /_standin/stats", func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, standin.Stats()) })
	mux.HandleFunc("GET /_standin/sent", func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, standin.Sent()) })

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	url := "http://" + ln.Addr().String()
	fmt.Printf("SES v2 stand-in at %s (max rate %g/s, fail every %d)\n  point the SDK at it: AWS_ENDPOINT_URL_SESV2=%s\n  stats: %s/_standin/stats  sent: %s/_standin/sent\n",
		url, *maxRate, *failEvery, url, url, url)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		if !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("serve: %w", err)
		}
	case <-ctx.Done():
		shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(shutdownCtx); err != nil {
			return fmt.Errorf("shut down: %w", err)
		}
	}
	st := standin.Stats()
	fmt.Printf("accepted %d, throttled %d, failed %d, rejected %d, bad requests %d, recipients %d\n",
		st.Accepted, st.Throttled, st.Failed, st.Rejected, st.BadRequests, len(st.PerRecipient))
	return nil
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}
