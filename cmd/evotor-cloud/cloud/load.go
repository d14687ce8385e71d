package cloud

import (
	"context"
	"errors"
	"fmt"
	"math"
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
	Mix         string        // receipts, products or mixed
	UserID      string        // the user whose token the notifications carry (via user/create)
	MaxInFlight int           // beyond this, arrivals are counted as dropped, not sent

	// Progress, when set, gets a snapshot of the run every ProgressEvery (default 1 s).
	Progress      func(LoadReport)
	ProgressEvery time.Duration
	// Grace is how long answers still in flight are awaited once ctx ends (default 2 s);
	// those still missing then count as "interrupted".
	Grace time.Duration
}

// Validate tells whether the options describe a load that can run.
func (o LoadOptions) Validate() error {
	if o.Rate <= 0 || o.Duration <= 0 {
		return errors.New("rate and duration must be positive")
	}
	if o.Mix != "receipts" && o.Mix != "products" && o.Mix != "mixed" {
		return fmt.Errorf("mix %q: want receipts, products or mixed", o.Mix)
	}
	return nil
}

// Load sends generated receipts and/or product batches with fresh ids on a fixed schedule
// (request i at i/Rate seconds). When ctx ends it stops sending, waits up to Grace for the
// answers in flight, and returns the partial report with Interrupted set.
func (c *Cloud) Load(ctx context.Context, o LoadOptions) (LoadReport, error) {
	if err := o.Validate(); err != nil {
		return LoadReport{}, err
	}
	o = o.withDefaults()
	token, err := c.userToken(ctx, o.UserID)
	if err != nil {
		return LoadReport{}, err
	}
	stats := newLoadStats(c.Resends)
	stopProgress := stats.reportEvery(o.ProgressEvery, o.Progress)
	answerCtx, stopWaiting := contextWithGrace(ctx, o.Grace)
	defer stopWaiting()

	var wg sync.WaitGroup
	inFlight := make(chan struct{}, o.MaxInFlight)
	deliveries := loadDeliveries(o, "Bearer "+token)
	total := max(1, int(math.Round(o.Duration.Seconds()*float64(o.Rate))))
	for i := 0; i < total && sleepUntil(ctx, stats.start.Add(time.Duration(float64(i)*float64(time.Second)/float64(o.Rate)))); i++ {
		select {
		case inFlight <- struct{}{}:
		default:
			stats.dropped()
			continue
		}
		stats.sent()
		d := deliveries(i)
		wg.Go(func() {
			res := c.Send(answerCtx, d.op, d.store, d.body, d.auth)
			<-inFlight
			stats.answered(statusKey(res, answerCtx), res.Duration)
		})
	}
	sleepUntil(ctx, stats.start.Add(o.Duration)) // the sending window is the whole Duration
	stats.sendingEnded()
	wg.Wait()
	stopProgress()
	rep := stats.report()
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
	return o
}

type delivery struct {
	op          Operation
	store, auth string
	body        []byte
}

// loadDeliveries makes the i-th request of the mix: a receipt or a batch of five products.
func loadDeliveries(o LoadOptions, auth string) func(i int) delivery {
	store := uuid.NewString()
	receipts, _ := OperationByID("postReceipts")
	products, _ := OperationByID("createProducts")
	return func(i int) delivery {
		if o.Mix == "products" || (o.Mix == "mixed" && i%2 == 1) {
			return delivery{products, store, auth, productsBody(5)}
		}
		return delivery{receipts, store, auth, receiptBody(o.UserID, store, uuid.NewString(), uuid.NewString())}
	}
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
