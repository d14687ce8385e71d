package cloud

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/google/uuid"
)

// LoadOptions: an open-loop load (a fixed arrival rate, whatever the answers' speed), bounded
// in time and in requests in flight.
type LoadOptions struct {
	Rate        int           // requests per second
	Duration    time.Duration // how long to send
	Mix         string        // receipts, products, mixed or evotor (evotormix.go)
	UserID      string        // the user whose token the notifications carry (via user/create); the evotor mix's first user
	MaxInFlight int           // beyond this, arrivals are counted as dropped, not sent

	// The evotor mix: Users users (UserID and the IDs after it; default 5), each with Stores
	// stores (default 4), the first of them starting with LargeStore products (default 20,000;
	// the others with 1,000); Catalogues in 1,000 requests are catalogues, taken as given (0 to
	// 100, receipts making up the difference; the commands default to 2); Seed fixes its random
	// choices (0: a new seed each run).
	Users, Stores int
	Catalogues    int
	LargeStore    int
	Seed          uint64
	// History is how many of the mix's requests are sent before the timed run, as fast as the
	// server answers (historyInFlight at a time): the past a partner's database holds (any mix;
	// their answers go to OnAnswer with Kind "history", not into the report).
	History int
	// AfterHistory, when set, runs once the history is answered (took is how long it took),
	// before the timed run: e.g. to wait for the server to forward it.
	AfterHistory func(ctx context.Context, took time.Duration) error

	// Progress, when set, gets a snapshot of the run every ProgressEvery (default 1 s).
	Progress      func(LoadReport)
	ProgressEvery time.Duration
	// Window, when set, cuts the report into windows of this length, each request counted in
	// the window it was due in; OnWindow, when set, gets each window as soon as every request
	// sent in it has finished, in order.
	Window   time.Duration
	OnWindow func(LoadWindow)
	// OnAnswer, when set, is told of every delivery once it has finished, the setup's too
	// (from the senders' goroutines, at once: it must be safe for concurrent use).
	OnAnswer func(Answered)
	// Grace is how long answers still in flight are awaited once ctx ends (default 2 s);
	// those still missing then count as "interrupted".
	Grace time.Duration
}

// Answered is one delivery of a load once it has finished, as OnAnswer gets it.
type Answered struct {
	Kind      string // the mix's kind of request ("setup" for the evotor mix's setup)
	Operation string // the operationId
	Body      []byte // the body as sent (not to be changed)
	Status    string // as the report counts it: "200", "500", "error", "interrupted"
}

// Mixes are the loads Load knows.
var Mixes = []string{"receipts", "products", "mixed", "evotor"}

// Validate tells whether the options describe a load that can run.
func (o LoadOptions) Validate() error {
	if o.Rate <= 0 || o.Duration <= 0 {
		return errors.New("rate and duration must be positive")
	}
	if !slices.Contains(Mixes, o.Mix) {
		return fmt.Errorf("mix %q: want receipts, products, mixed or evotor", o.Mix)
	}
	if o.Users < 0 || o.Stores < 0 || o.LargeStore < 0 || o.Window < 0 || o.History < 0 {
		return errors.New("users, stores, the large store, window and history cannot be negative")
	}
	if o.Catalogues < 0 || o.Catalogues > maxCatalogues {
		return fmt.Errorf("catalogues: %d in 1,000, want 0 to %d", o.Catalogues, maxCatalogues)
	}
	return nil
}

// Load sends generated deliveries with fresh ids on a fixed schedule (request i at i/Rate
// seconds): receipts and/or product batches of one user, or the evotor mix. When ctx ends it
// stops sending, waits up to Grace for the answers in flight, and returns the partial report
// with Interrupted set.
func (c *Cloud) Load(ctx context.Context, o LoadOptions) (LoadReport, error) {
	if err := o.Validate(); err != nil {
		return LoadReport{}, err
	}
	o = o.withDefaults()
	deliveries, err := c.traffic(ctx, o)
	if err != nil {
		return LoadReport{}, err
	}
	if err := c.sendHistory(ctx, o, deliveries); err != nil {
		return LoadReport{}, err
	}
	resendsBefore := c.Resends() // the history's
	stats := newLoadStats(func() int64 { return c.Resends() - resendsBefore }, o.Window)
	stopProgress := func() {}
	if o.Progress != nil {
		stopProgress = every(o.ProgressEvery, func() { o.Progress(stats.report(nil)) })
	}
	var windows []LoadWindow // those complete, for the report
	emitWindows := func() {  // called by one goroutine at a time: the ticker's, then this one
		for _, w := range stats.completeWindows() {
			windows = append(windows, w)
			if o.OnWindow != nil {
				o.OnWindow(w)
			}
		}
	}
	stopWindows := func() {}
	if o.Window > 0 {
		stopWindows = every(100*time.Millisecond, emitWindows)
	}
	answerCtx, stopWaiting := contextWithGrace(ctx, o.Grace)
	defer stopWaiting()

	var wg sync.WaitGroup
	inFlight := make(chan struct{}, o.MaxInFlight)
	total := max(1, int(math.Round(o.Duration.Seconds()*float64(o.Rate))))
	for i := 0; i < total; i++ {
		due := time.Duration(float64(i) * float64(time.Second) / float64(o.Rate))
		if !sleepUntil(ctx, stats.start.Add(due)) {
			break
		}
		d := deliveries(i)
		select {
		case inFlight <- struct{}{}:
		default:
			stats.dropped(due, d.kind)
			continue
		}
		w := stats.sent(due, d.kind)
		wg.Go(func() {
			res := c.Send(answerCtx, d.op, d.store, d.body, d.auth)
			<-inFlight
			status := statusKey(res, answerCtx)
			stats.answered(w, d.kind, status, res.Duration)
			if o.OnAnswer != nil {
				o.OnAnswer(Answered{Kind: d.kind, Operation: d.op.ID, Body: d.body, Status: status})
			}
		})
	}
	sleepUntil(ctx, stats.start.Add(o.Duration)) // the sending window is the whole Duration
	stats.sendingEnded()
	wg.Wait()
	stopProgress()
	stopWindows()
	emitWindows() // the last ones, complete now
	rep := stats.report(windows)
	rep.Interrupted = ctx.Err() != nil
	return rep, nil
}

func (o LoadOptions) withDefaults() LoadOptions {
	if o.MaxInFlight <= 0 {
		o.MaxInFlight = 1000
	}
	if o.ProgressEvery <= 0 {
		o.ProgressEvery = time.Second
	}
	if o.Grace <= 0 {
		o.Grace = 2 * time.Second
	}
	if o.Users == 0 {
		o.Users = 5
	}
	if o.Stores == 0 {
		o.Stores = 4
	}
	if o.LargeStore == 0 {
		o.LargeStore = DefaultLargeStore
	}
	return o
}

// delivery is one request of a load: what to send, with which credential, counted as kind.
type delivery struct {
	kind        string
	op          Operation
	store, auth string
	body        []byte
}

// traffic registers the load's users and returns its i-th request.
func (c *Cloud) traffic(ctx context.Context, o LoadOptions) (func(i int) delivery, error) {
	if o.Mix == "evotor" {
		return c.evotorTraffic(ctx, o)
	}
	token, err := c.userToken(ctx, o.UserID)
	if err != nil {
		return nil, err
	}
	return loadDeliveries(o, "Bearer "+token), nil
}

// loadDeliveries makes the i-th request of the receipts, products or mixed load: a receipt or
// a batch of five products.
func loadDeliveries(o LoadOptions, auth string) func(i int) delivery {
	store := uuid.NewString()
	receipts, _ := OperationByID("postReceipts")
	products, _ := OperationByID("createProducts")
	return func(i int) delivery {
		if o.Mix == "products" || (o.Mix == "mixed" && i%2 == 1) {
			return delivery{"products", products, store, auth, productsBody(5)}
		}
		return delivery{"receipt", receipts, store, auth, receiptBody(o.UserID, store, uuid.NewString(), uuid.NewString())}
	}
}

// historyInFlight is how many requests of the history are in flight at once.
const historyInFlight = 16

// sendHistory sends the first o.History requests of deliveries before the timed run, closed
// loop: historyInFlight at a time, each sender taking the next request as soon as it has
// its answer. An answer that is not 200 ends it with an error: the history is a database's
// past, not a measurement, and a server that refuses it is not worth timing.
func (c *Cloud) sendHistory(ctx context.Context, o LoadOptions, deliveries func(int) delivery) error {
	if o.History == 0 {
		return nil
	}
	start := time.Now()
	var mu sync.Mutex // deliveries is not safe for concurrent use
	next, failed := 0, error(nil)
	take := func() (delivery, bool) {
		mu.Lock()
		defer mu.Unlock()
		if next == o.History || failed != nil || ctx.Err() != nil {
			return delivery{}, false
		}
		next++
		return deliveries(next - 1), true
	}
	fail := func(err error) {
		mu.Lock()
		defer mu.Unlock()
		failed = cmp.Or(failed, err)
	}
	var wg sync.WaitGroup
	for range min(historyInFlight, o.History) {
		wg.Go(func() {
			for d, ok := take(); ok; d, ok = take() {
				res := c.Send(ctx, d.op, d.store, d.body, d.auth)
				status := statusKey(res, ctx)
				if o.OnAnswer != nil {
					o.OnAnswer(Answered{Kind: "history", Operation: d.op.ID, Body: d.body, Status: status})
				}
				if status != "200" {
					fail(fmt.Errorf("history: %s (%s) answered %s: %v %.200s", d.op.ID, d.kind, status, res.Err, res.Body))
				}
			}
		})
	}
	wg.Wait()
	if err := cmp.Or(failed, ctx.Err()); err != nil || o.AfterHistory == nil {
		return err
	}
	return o.AfterHistory(ctx, time.Since(start))
}

const statusInterrupted = "interrupted"

// statusKey is how a delivery ended, as the report counts it: "200", "500", "error", or
// "interrupted" (no answer before the run stopped waiting).
func statusKey(res Result, answerCtx context.Context) string {
	switch {
	case res.Err != nil && answerCtx.Err() != nil:
		return statusInterrupted
	case res.Err != nil:
		return "error"
	}
	return strconv.Itoa(res.Status)
}

// contextWithGrace is ctx's values without its end: it ends grace after ctx does, so that
// answers in flight can still arrive.
func contextWithGrace(ctx context.Context, grace time.Duration) (context.Context, context.CancelFunc) {
	graceful, cancel := context.WithCancel(context.WithoutCancel(ctx))
	stop := context.AfterFunc(ctx, func() { time.AfterFunc(grace, cancel) })
	return graceful, func() { stop(); cancel() }
}

// sleepUntil waits until t; false when ctx ended first.
func sleepUntil(ctx context.Context, t time.Time) bool {
	wait := time.Until(t)
	if wait <= 0 {
		return ctx.Err() == nil
	}
	timer := time.NewTimer(wait)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-timer.C:
		return true
	}
}
