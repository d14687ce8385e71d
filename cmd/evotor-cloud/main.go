// Command evotor-cloud plays Evotor Cloud against a partner server: the documented lifecycle,
// a replay of request files, or an open-loop load. Built on the generated client.
package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/evotor-partner/evotor-partner/cmd/evotor-cloud/cloud"
)

const usage = `usage:
  evotor-cloud lifecycle --target URL (--app-token T | --app-basic login:password) [--user-id ID] [--login L --password P] [--json]
  evotor-cloud replay    --target URL (--app-token T | --app-basic login:password) [--op ID] [--store UUID] [--user-id ID | --user-token T] [--json] DIR|FILE…
  evotor-cloud load      --target URL (--app-token T | --app-basic login:password) --rate N --duration D --mix receipts|products|mixed [--user-id ID] [--json]
common: --retries N (3) --retry-interval D (1s) --timeout D (10s)`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// run is the whole command; it returns the exit code (non-zero when a step failed).
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, usage)
		return 2
	}
	fs := flag.NewFlagSet(args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	target := fs.String("target", "", "the partner server's base URL")
	appToken := fs.String("app-token", "", "the app token typed into Evotor's portal")
	appBasic := fs.String("app-basic", "", "instead: the portal's Basic login:password")
	retries := fs.Int("retries", 3, "re-sends after no 200 in time or a 5xx")
	retryInterval := fs.Duration("retry-interval", time.Second, "wait before a re-send")
	timeout := fs.Duration("timeout", 10*time.Second, "how long one attempt may take (Evotor: 10s)")
	asJSON := fs.Bool("json", false, "write the report as JSON")
	userID := fs.String("user-id", "01-000000000000001", "the Evotor user to play")
	login := fs.String("login", "", "lifecycle: log in with user/verify instead of user/create")
	password := fs.String("password", "", "lifecycle: the password for --login")
	op := fs.String("op", "", "replay: send every file to this operationId")
	store := fs.String("store", "20170222-5a12-403a-80f6-75c361356826", "replay: the store of products and documents")
	userToken := fs.String("user-token", "", "replay: use this user token instead of user/create")
	rate := fs.Int("rate", 10, "load: requests per second")
	duration := fs.Duration("duration", 10*time.Second, "load: how long to send")
	mix := fs.String("mix", "receipts", "load: receipts, products or mixed")
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	auth, err := appAuthorization(*appToken, *appBasic)
	if err != nil || *target == "" {
		fmt.Fprintln(stderr, "evotor-cloud: --target and one of --app-token / --app-basic are required")
		return 2
	}
	c, err := cloud.New(cloud.Config{Target: strings.TrimRight(*target, "/"), AppAuth: auth, Retries: *retries,
		RetryInterval: *retryInterval, Timeout: *timeout})
	if err != nil {
		fmt.Fprintln(stderr, "evotor-cloud:", err)
		return 2
	}
	switch args[0] {
	case "lifecycle":
		return report(stdout, *asJSON, c.Lifecycle(ctx, cloud.LifecycleOptions{UserID: *userID, Login: *login, Password: *password}))
	case "replay":
		rep, err := c.Replay(ctx, cloud.ReplayOptions{Paths: fs.Args(), Operation: *op, StoreUUID: *store, UserID: *userID, UserToken: *userToken})
		if err != nil {
			fmt.Fprintln(stderr, "evotor-cloud:", err)
			return 2
		}
		return report(stdout, *asJSON, rep)
	case "load":
		rep, err := c.Load(ctx, cloud.LoadOptions{Rate: *rate, Duration: *duration, Mix: *mix, UserID: *userID})
		if err != nil {
			fmt.Fprintln(stderr, "evotor-cloud:", err)
			return 2
		}
		if *asJSON {
			_ = json.NewEncoder(stdout).Encode(rep)
		} else {
			fmt.Fprintf(stdout, "sent %d (dropped %d), by status %v, re-sends %d\nlatency p50 %s p90 %s p99 %s max %s\n",
				rep.Sent, rep.Dropped, rep.ByStatus, rep.Resends, rep.P50, rep.P90, rep.P99, rep.Max)
		}
		if rep.Errors() > 0 || rep.Dropped > 0 {
			return 1
		}
		return 0
	}
	fmt.Fprintln(stderr, usage)
	return 2
}

func appAuthorization(token, basic string) (string, error) {
	switch {
	case token != "" && basic == "":
		return "Bearer " + token, nil
	case basic != "" && token == "" && strings.Contains(basic, ":"):
		return "Basic " + base64.StdEncoding.EncodeToString([]byte(basic)), nil
	}
	return "", errors.New("one app credential")
}

// report prints one line a step (or JSON) and returns the exit code.
func report(w io.Writer, asJSON bool, rep cloud.Report) int {
	if asJSON {
		_ = json.NewEncoder(w).Encode(rep)
	} else {
		for _, s := range rep.Steps {
			verdict := "PASS"
			if !s.OK {
				verdict = "FAIL " + s.Problem
			}
			fmt.Fprintf(w, "%-58s %3d %9s  %s\n", s.Name, s.Status, s.Duration.Round(time.Microsecond), verdict)
		}
		fmt.Fprintf(w, "%d steps, re-sends %d: %s\n", len(rep.Steps), rep.Resends, map[bool]string{true: "all passed", false: "FAILED"}[rep.OK])
	}
	if !rep.OK {
		return 1
	}
	return 0
}
