package main

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/evotor-partner/evotor-partner/cmd/evotor-cloud/cloud"
	"github.com/evotor-partner/evotor-partner/cmd/internal/cli"
)

// windowPrinter prints each window of a load as it ends: a line for people, or a JSON line.
func windowPrinter(w io.Writer, asJSON bool) func(cloud.LoadWindow) {
	return func(win cloud.LoadWindow) {
		if asJSON {
			_ = json.NewEncoder(w).Encode(win)
			return
		}
		fmt.Fprintf(w, "window %d  %s–%s  sent %d  %.1f req/s  p50 %s  p99 %s  max %s  not 200: %d\n",
			win.Index+1, short(win.Start), short(win.Start+win.Length), win.Sent, win.Rate(),
			short(win.P50), short(win.P99), short(win.Max), win.Errors()+win.Dropped)
	}
}

// printKindsAndWindows adds to the load's table one row per kind of request and, with
// --window, one per window.
func printKindsAndWindows(w io.Writer, r cloud.LoadReport) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "\nkind\tsent\tp50\tp99\tmax\tnot 200\t")
	for _, kind := range slices.Sorted(maps.Keys(r.Kinds)) {
		t := r.Kinds[kind]
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%d\t\n", kind, t.Sent, short(t.P50), short(t.P99), short(t.Max), t.Errors()+t.Dropped)
	}
	if len(r.Windows) > 0 {
		fmt.Fprintln(tw, "\nwindow\treq/s\tp50\tp99\tmax\tnot 200\t")
		for _, win := range r.Windows {
			fmt.Fprintf(tw, "%s–%s\t%.1f\t%s\t%s\t%s\t%d\t\n", short(win.Start), short(win.Start+win.Length), win.Rate(),
				short(win.P50), short(win.P99), short(win.Max), win.Errors()+win.Dropped)
		}
	}
	_ = tw.Flush()
}

// answerLog is --answers: one line per finished delivery, "status operationId kind sha256",
// tab-separated, in the order they finished.
type answerLog struct {
	mu   sync.Mutex
	file *os.File
	w    *bufio.Writer
}

func newAnswerLog(path string) (*answerLog, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	return &answerLog{file: f, w: bufio.NewWriter(f)}, nil
}

func (l *answerLog) add(a cloud.Answered) {
	sum := sha256.Sum256(a.Body)
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(l.w, "%s\t%s\t%s\t%s\n", a.Status, a.Operation, a.Kind, hex.EncodeToString(sum[:]))
}

func (l *answerLog) close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	err := l.w.Flush()
	if cerr := l.file.Close(); err == nil {
		err = cerr
	}
	return err
}

// historyDone is --history's report (a line on stderr, which `loadbench soak` reads), after
// waiting, with --history-drain, for the server to forward the history; with --history-wait
// it then waits for a line on stdin (`loadbench soak` vacuums and checkpoints meanwhile).
func historyDone(out cli.Streams, drainMetrics string, wait bool) func(context.Context, time.Duration) error {
	return func(ctx context.Context, took time.Duration) error {
		line := fmt.Sprintf("history: sent in %.1f s", took.Seconds())
		if drainMetrics != "" {
			waited, drained, err := cloud.WaitForwarded(ctx, drainMetrics, 5*time.Minute)
			if err != nil {
				return fmt.Errorf("--history-drain: %w", err)
			}
			if !drained {
				return fmt.Errorf("--history-drain: still forwarding the history after %s", waited.Round(time.Second))
			}
			line += fmt.Sprintf(", forwarded %.1f s later", waited.Seconds())
		}
		if wait {
			line += "; waiting for a line on stdin"
		}
		fmt.Fprintln(out.Stderr, line)
		if wait {
			if _, err := bufio.NewReader(out.Stdin).ReadString('\n'); err != nil && !errors.Is(err, io.EOF) {
				return fmt.Errorf("--history-wait: %w", err)
			}
		}
		return nil
	}
}
