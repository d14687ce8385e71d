package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/evotor-partner/evotor-partner/cmd/evotor-cloud/restsim"
	"github.com/evotor-partner/evotor-partner/cmd/internal/cli"
	"github.com/evotor-partner/evotor-partner/generated"
)

// Evotor's REST API, served by the simulator (cmd/evotor-cloud/restsim): on its own from
// request files (`rest`), or beside a run that sends webhooks (`--rest` on lifecycle, replay
// and load), from what that run sends.

// restCommand serves Evotor's REST API for one user, with records read from request files (as
// the webhooks their names give; nothing is sent), until interrupted.
func restCommand(fs *flag.FlagSet) cli.Action {
	addr := fs.String("addr", "127.0.0.1:9081", "the `address` to serve Evotor's REST API on (port 0: any free one)")
	userID := userIDFlag(fs)
	token := fs.String("token", "", "the user's cloud `token` (default: a new one, printed)")
	store := fs.String("store", "20170222-5a12-403a-80f6-75c361356826", "the store `uuid` of products and documents files")
	limits := restLimitFlags(fs, "")
	return func(ctx context.Context, paths []string, out cli.Streams) error {
		srv, err := limits.server()
		if err != nil {
			return err
		}
		if *token == "" {
			*token = uuid.NewString()
		}
		srv.Tokens().Set(*userID, *token)
		n, err := srv.Model().PutRequestFiles(*userID, *store, paths...)
		if err != nil {
			return cli.UsageError(err)
		}
		return srv.ListenAndServe(ctx, *addr, func(url string) {
			fmt.Fprintf(out.Stderr, "Evotor's REST API on %s: %d files recorded for user %s, cloud token %s (Ctrl-C stops)\n",
				url, n, *userID, *token)
		})
	}
}

// restLimits are the API's page size and rate limit.
type restLimits struct {
	pageSize, requests int
	period             time.Duration
}

// restLimitFlags defines --page-size, --rate-limit and --rate-period, their names after prefix.
func restLimitFlags(fs *flag.FlagSet, prefix string) *restLimits {
	var l restLimits
	fs.IntVar(&l.pageSize, prefix+"page-size", restsim.DefaultPageSize, "objects per page of Evotor's REST API")
	fs.IntVar(&l.requests, prefix+"rate-limit", 0, "requests each user may make to Evotor's REST API per --"+prefix+"rate-period before 429 (0: no limit)")
	fs.DurationVar(&l.period, prefix+"rate-period", time.Second, "the REST API's rate limit period")
	return &l
}

func (l *restLimits) server() (*restsim.Server, error) {
	return restsim.NewServer(restsim.Config{PageSize: l.pageSize, RateLimit: restsim.RateLimit{Requests: l.requests, Period: l.period}})
}

// restSide is --rest on a command that sends webhooks: Evotor's REST API served beside the run,
// fed with what it sends.
type restSide struct {
	addr   string
	drop   float64
	revoke bool
	limits *restLimits

	srv  *restsim.Server
	rec  *restsim.Recorder
	done chan error
}

func restFlags(fs *flag.FlagSet) *restSide {
	var r restSide
	fs.StringVar(&r.addr, "rest", "", "also serve Evotor's REST API on this `address`, from what this run sends, until Ctrl-C")
	fs.Float64Var(&r.drop, "rest-drop", 0, "with --rest: the `share` (0–1) of stores, devices, employees, products and documents webhooks not delivered (the partner misses them; the API has them)")
	fs.BoolVar(&r.revoke, "rest-revoke-on-uninstall", false, "with --rest: ApplicationUninstalled revokes the user's cloud token, as Evotor does")
	r.limits = restLimitFlags(fs, "rest-")
	return &r
}

// start serves the API (nothing without --rest) and says where on stderr.
func (r *restSide) start(ctx context.Context, stderr io.Writer) error {
	if r.addr == "" {
		if r.drop != 0 {
			return cli.UsageError(errors.New("--rest-drop needs --rest"))
		}
		return nil
	}
	if r.drop < 0 || r.drop > 1 {
		return cli.UsageError(errors.New("--rest-drop is a share, 0 to 1"))
	}
	srv, err := r.limits.server()
	if err != nil {
		return err
	}
	r.srv = srv
	r.rec = &restsim.Recorder{Model: srv.Model(), Tokens: srv.Tokens(), RevokeOnUninstall: r.revoke}
	if r.drop > 0 {
		r.rec.Drop = func(string) bool { return rand.Float64() < r.drop }
	}
	ready := make(chan string, 1)
	r.done = make(chan error, 1)
	go func() { r.done <- srv.ListenAndServe(ctx, r.addr, func(url string) { ready <- url }) }()
	select {
	case url := <-ready:
		fmt.Fprintf(stderr, "Evotor's REST API on %s, with the cloud tokens this run sends in user/token\n", url)
		return nil
	case err := <-r.done:
		return err
	}
}

// doer is the Cloud's HTTP client: recorded with --rest, the Cloud's own (nil) without.
func (r *restSide) doer() generated.HttpRequestDoer {
	if r.rec == nil {
		return nil
	}
	transport := http.DefaultTransport.(*http.Transport).Clone() // as cloud.New's own client
	transport.MaxIdleConns, transport.MaxIdleConnsPerHost = 1024, 1024
	return r.rec.Doer(&http.Client{Transport: transport})
}

// stay keeps serving the API after the run until Ctrl-C (nothing without --rest); runErr is
// the run's outcome, returned once the API stops.
func (r *restSide) stay(ctx context.Context, stderr io.Writer, runErr error) error {
	if r.srv == nil {
		return runErr
	}
	fmt.Fprintf(stderr, "Evotor's REST API keeps serving (%d webhooks dropped); Ctrl-C stops\n", r.rec.Dropped())
	users := r.srv.Model().Users()
	slices.Sort(users)
	for _, u := range users {
		if token, ok := r.srv.Tokens().Token(u); ok { // the simulator's own tokens, for curl
			fmt.Fprintf(stderr, "  user %s: Authorization: Bearer %s\n", u, token)
		}
	}
	<-ctx.Done()
	if err := <-r.done; err != nil {
		return err
	}
	return runErr
}
