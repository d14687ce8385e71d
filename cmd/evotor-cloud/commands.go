package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"strings"
	"time"

	"github.com/evotor-partner/evotor-partner/cmd/evotor-cloud/cloud"
	"github.com/evotor-partner/evotor-partner/cmd/internal/cli"
	"github.com/evotor-partner/evotor-partner/generated"
)

func lifecycleCommand(fs *flag.FlagSet) cli.Action {
	conn := connectionFlags(fs)
	userID := userIDFlag(fs)
	login := fs.String("login", "", "log in with user/verify instead of registering with user/create")
	password := fs.String("password", "", "the password for --login")
	asJSON := jsonFlag(fs)
	rest := restFlags(fs)
	return func(ctx context.Context, _ []string, out cli.Streams) error {
		if err := rest.start(ctx, out.Stderr); err != nil {
			return err
		}
		conn.doer = rest.doer()
		c, err := conn.open()
		if err != nil {
			return err
		}
		rep := c.Lifecycle(ctx, cloud.LifecycleOptions{UserID: *userID, Login: *login, Password: *password})
		return rest.stay(ctx, out.Stderr, printSteps(out.Stdout, "lifecycle", *asJSON, rep))
	}
}

func replayCommand(fs *flag.FlagSet) cli.Action {
	conn := connectionFlags(fs)
	userID := userIDFlag(fs)
	op := fs.String("op", "", "send every file to this `operationId` instead of the one its name gives")
	store := fs.String("store", "20170222-5a12-403a-80f6-75c361356826", "the store `uuid` of products and documents")
	userToken := fs.String("user-token", "", "use this user `token` instead of one from user/create")
	asJSON := jsonFlag(fs)
	return func(ctx context.Context, paths []string, out cli.Streams) error {
		c, err := conn.open()
		if err != nil {
			return err
		}
		rep, err := c.Replay(ctx, cloud.ReplayOptions{Paths: paths, Operation: *op, StoreUUID: *store, UserID: *userID, UserToken: *userToken})
		if err != nil {
			return cli.UsageError(err) // a file that cannot be read
		}
		return printSteps(out.Stdout, "replay", *asJSON, rep)
	}
}

func loadCommand(fs *flag.FlagSet) cli.Action {
	conn := connectionFlags(fs)
	userID := userIDFlag(fs)
	rate := fs.Int("rate", 10, "requests per second")
	duration := fs.Duration("duration", 10*time.Second, "how long to send")
	mix := fs.String("mix", "receipts", "what to send: `receipts|products|mixed|evotor` (evotor: Evotor's proportions of every webhook, several users and stores)")
	users := fs.Int("users", 5, "evotor mix: how many users (--user-id and the IDs after it)")
	stores := fs.Int("stores", 4, "evotor mix: stores per user")
	largeStore := fs.Int("large-store", cloud.DefaultLargeStore, "evotor mix: products of each user's first store at the start (the others get 1,000)")
	catalogues := fs.Int("catalogues", cloud.DefaultCatalogues, "evotor mix: catalogues (200–2,000 products) in 1,000 requests, 0 to 100 (receipts make up the difference)")
	seed := fs.Uint64("seed", 0, "evotor mix: the random choices' seed (0: a new one each run)")
	history := fs.Int("history", 0, "first send this many of the mix's requests as fast as the server answers (16 at a time), not timed: a database with a past")
	historyDrain := fs.String("history-drain", "", "after the history, wait until the evotor-partner whose metrics are at this `URL` has forwarded it all (at most 5 minutes)")
	historyWait := fs.Bool("history-wait", false, "after the history (and --history-drain), print a line and wait for one on stdin before the timed run: time for the database's own upkeep")
	window := fs.Duration("window", 0, "also report each window of this `length` (e.g. 1m) once its requests have finished: a line each (with --json, a JSON line each), and a table at the end")
	answers := fs.String("answers", "", "write one line per finished delivery to this `file`: status, operationId, kind, SHA-256 of the body (to check what a forwarding receiver got)")
	quiet := fs.Bool("quiet", false, "no progress line every second on stderr")
	asJSON := jsonFlag(fs)
	return func(ctx context.Context, _ []string, out cli.Streams) error {
		opts := cloud.LoadOptions{Rate: *rate, Duration: *duration, Mix: *mix, UserID: *userID,
			Users: *users, Stores: *stores, Catalogues: *catalogues, LargeStore: *largeStore, Seed: *seed, Window: *window, History: *history}
		if err := opts.Validate(); err != nil {
			return cli.UsageError(err)
		}
		c, err := conn.open()
		if err != nil {
			return err
		}
		opts.AfterHistory = historyDone(out, *historyDrain, *historyWait)
		if !*quiet {
			opts.Progress = (&progress{w: out.Stderr}).print
		}
		if *window > 0 {
			opts.OnWindow = windowPrinter(out.Stdout, *asJSON)
		}
		var log *answerLog
		if *answers != "" {
			if log, err = newAnswerLog(*answers); err != nil {
				return err
			}
			opts.OnAnswer = log.add
		}
		rep, err := c.Load(ctx, opts)
		if log != nil {
			if cerr := log.close(); err == nil {
				err = cerr
			}
		}
		if err != nil {
			return err
		}
		if *asJSON {
			_ = json.NewEncoder(out.Stdout).Encode(rep)
		} else {
			printLoadTable(out.Stdout, rep, *rate)
			printKindsAndWindows(out.Stdout, rep)
		}
		if rep.Errors() > 0 || rep.Dropped > 0 {
			return cli.ErrFailed
		}
		return nil
	}
}

// connection is how every command reaches the partner server.
type connection struct {
	target, appToken, appBasic string
	retries                    int
	retryInterval, timeout     time.Duration
	doer                       generated.HttpRequestDoer // with --rest: records what is sent (restSide.doer); nil: the Cloud's own client
}

func connectionFlags(fs *flag.FlagSet) *connection {
	var c connection
	fs.StringVar(&c.target, "target", "", "the partner server's base `URL` (required)")
	fs.StringVar(&c.appToken, "app-token", "", "the app `token` typed into Evotor's portal (or --app-basic)")
	fs.StringVar(&c.appBasic, "app-basic", "", "instead of --app-token: the portal's Basic `login:password`")
	fs.IntVar(&c.retries, "retries", 3, "re-sends after no 200 in time or a 5xx")
	fs.DurationVar(&c.retryInterval, "retry-interval", time.Second, "wait before a re-send")
	fs.DurationVar(&c.timeout, "timeout", 10*time.Second, "how long one attempt may take, as Evotor's")
	return &c
}

func userIDFlag(fs *flag.FlagSet) *string {
	return fs.String("user-id", "01-000000000000001", "the Evotor user `ID` to play")
}

func jsonFlag(fs *flag.FlagSet) *bool {
	return fs.Bool("json", false, "write the report as JSON")
}

// open builds the simulated Cloud the flags describe.
func (c *connection) open() (*cloud.Cloud, error) {
	auth, err := appAuthorization(c.appToken, c.appBasic)
	if err != nil || c.target == "" {
		return nil, cli.UsageError(errors.New("--target and one of --app-token / --app-basic (login:password) are required"))
	}
	cl, err := cloud.New(cloud.Config{Target: strings.TrimRight(c.target, "/"), AppAuth: auth, Retries: c.retries,
		RetryInterval: c.retryInterval, Timeout: c.timeout, Doer: c.doer})
	if err != nil {
		return nil, cli.UsageError(err)
	}
	return cl, nil
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
