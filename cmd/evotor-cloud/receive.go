package main

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/evotor-partner/evotor-partner/cmd/evotor-cloud/cloud"
	"github.com/evotor-partner/evotor-partner/cmd/internal/cli"
	"github.com/evotor-partner/evotor-partner/security/webhook"
)

// receiveCommand is the partner's first consumer of forwarding: it verifies each message's
// signature and prints it, one JSON line per message, until interrupted.
func receiveCommand(fs *flag.FlagSet) cli.Action {
	listen := fs.String("listen", "127.0.0.1:8090", "the `address` to listen on (port 0: any free one)")
	secret := fs.String("secret", "", "the signing `secret`, whsec_… (default $EVOTOR_PARTNER_FORWARD_SECRET)")
	return func(ctx context.Context, _ []string, out cli.Streams) error {
		key, err := webhook.ParseSecret(cmp.Or(*secret, os.Getenv("EVOTOR_PARTNER_FORWARD_SECRET")))
		if err != nil {
			return cli.UsageError(fmt.Errorf("--secret: %w", err))
		}
		ln, err := net.Listen("tcp", *listen)
		if err != nil {
			return err
		}
		var mu sync.Mutex // one line at a time on each stream
		say := func(w interface{ Write([]byte) (int, error) }, line []byte) {
			mu.Lock()
			defer mu.Unlock()
			_, _ = w.Write(append(line, '\n'))
		}
		recv := &cloud.Receiver{Secret: key,
			Deliver: func(_ string, body []byte) error {
				var line bytes.Buffer
				if err := json.Compact(&line, body); err != nil {
					return err
				}
				say(out.Stdout, line.Bytes())
				return nil
			},
			Duplicate: func(id string) { say(out.Stderr, []byte("duplicate "+id+" (answered 200, not printed again)")) },
		}
		mux := http.NewServeMux()
		mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) }) // the container's probe
		mux.Handle("/", refusalLog(recv, func(s string) { say(out.Stderr, []byte(s)) }))
		srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
		say(out.Stderr, []byte("receiving on http://"+ln.Addr().String()+"/ (Ctrl-C stops)"))
		go func() {
			<-ctx.Done()
			shutdown, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			_ = srv.Shutdown(shutdown)
		}()
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	}
}

// refusalLog notes on stderr every request the receiver refused (bad signature: 401).
func refusalLog(h http.Handler, note func(string)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		h.ServeHTTP(rec, r)
		if rec.status >= 400 {
			note(fmt.Sprintf("refused %s %s: %d", r.Method, r.URL.Path, rec.status))
		}
	})
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) { s.status = code; s.ResponseWriter.WriteHeader(code) }
