package cloud

import (
	"context"
	"errors"
	"fmt"
	"sort"
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
}

// LoadReport sums a load run up.
type LoadReport struct {
	Sent     int            `json:"sent"`
	Dropped  int            `json:"dropped"`
	ByStatus map[string]int `json:"byStatus"` // "200", "500", "error", …
	P50      time.Duration  `json:"p50Ns"`
	P90      time.Duration  `json:"p90Ns"`
	P99      time.Duration  `json:"p99Ns"`
	Max      time.Duration  `json:"maxNs"`
	Resends  int64          `json:"resends"`
}

// Errors counts the requests that did not end in 200.
func (r LoadReport) Errors() int { return r.Sent - r.ByStatus["200"] }

// Load sends generated receipts and/or product batches with fresh ids at a fixed rate.
func (c *Cloud) Load(ctx context.Context, o LoadOptions) (LoadReport, error) {
	rep := LoadReport{ByStatus: map[string]int{}}
	if o.Rate <= 0 || o.Duration <= 0 {
		return rep, errors.New("rate and duration must be positive")
	}
	if o.Mix != "receipts" && o.Mix != "products" && o.Mix != "mixed" {
		return rep, fmt.Errorf("mix %q: want receipts, products or mixed", o.Mix)
	}
	if o.MaxInFlight <= 0 {
		o.MaxInFlight = 1000
	}
	token, err := c.userToken(ctx, o.UserID)
	if err != nil {
		return rep, err
	}
	auth := "Bearer " + token
	store := uuid.NewString()
	receipts, _ := OperationByID("postReceipts")
	products, _ := OperationByID("createProducts")

	var mu sync.Mutex
	var latencies []time.Duration
	var wg sync.WaitGroup
	inFlight := make(chan struct{}, o.MaxInFlight)
	ticker := time.NewTicker(time.Second / time.Duration(o.Rate))
	defer ticker.Stop()
	deadline := time.After(o.Duration)
loop:
	for i := 0; ; i++ {
		select {
		case <-ctx.Done():
			break loop
		case <-deadline:
			break loop
		case <-ticker.C:
		}
		select {
		case inFlight <- struct{}{}:
		default:
			rep.Dropped++
			continue
		}
		rep.Sent++
		op, body := receipts, receiptBody(o.UserID, store, uuid.NewString(), uuid.NewString())
		if o.Mix == "products" || (o.Mix == "mixed" && i%2 == 1) {
			op, body = products, productsBody(5)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			res := c.Send(ctx, op, store, body, auth)
			<-inFlight
			key := strconv.Itoa(res.Status)
			if res.Err != nil {
				key = "error"
			}
			mu.Lock()
			rep.ByStatus[key]++
			latencies = append(latencies, res.Duration)
			mu.Unlock()
		}()
	}
	wg.Wait()
	sort.Slice(latencies, func(i, j int) bool { return latencies[i] < latencies[j] })
	rep.P50, rep.P90, rep.P99 = percentile(latencies, 50), percentile(latencies, 90), percentile(latencies, 99)
	if len(latencies) > 0 {
		rep.Max = latencies[len(latencies)-1]
	}
	rep.Resends = c.Resends()
	return rep, nil
}

func percentile(sorted []time.Duration, p int) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := (len(sorted)*p + 99) / 100
	return sorted[max(i-1, 0)]
}
