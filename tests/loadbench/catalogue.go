package main

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// catalogueResult: a big products notification on our server against the COPY floor.
type catalogueResult struct {
	Bytes, Products    int
	Floor, New, Resent time.Duration // medians: the floor, our server into a new store, the same body re-sent
	RSSGrowth          int64         // our server's peak resident memory during the sends, minus its idle RSS
}

// catalogueOptions: the body's size and how many times each timing is taken (median kept).
type catalogueOptions struct {
	Bytes, Runs int
}

// copyFloor is the least any server must do to store a catalogue durably: split the array
// into its items, COPY (uuid, raw jsonb) into a fresh table on one connection, commit.
func copyFloor(ctx context.Context, databaseURL string, body []byte, run int) (time.Duration, int, error) {
	conn, err := pgx.Connect(ctx, databaseURL)
	if err != nil {
		return 0, 0, err
	}
	defer conn.Close(ctx)
	table := fmt.Sprintf("floor_%d", run)
	if _, err := conn.Exec(ctx, "CREATE TABLE "+table+" (uuid uuid NOT NULL, raw jsonb NOT NULL)"); err != nil {
		return 0, 0, err
	}
	start := time.Now()
	rows, err := splitProducts(body)
	if err != nil {
		return 0, 0, err
	}
	tx, err := conn.Begin(ctx)
	if err != nil {
		return 0, 0, err
	}
	defer tx.Rollback(ctx) //nolint:errcheck // a no-op after Commit
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{table}, []string{"uuid", "raw"}, pgx.CopyFromRows(rows)); err != nil {
		return 0, 0, err
	}
	if err := tx.Commit(ctx); err != nil {
		return 0, 0, err
	}
	return time.Since(start), len(rows), nil
}

// splitProducts reads the array item by item: each item's uuid and its raw JSON.
func splitProducts(body []byte) ([][]any, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	if _, err := dec.Token(); err != nil { // [
		return nil, err
	}
	var rows [][]any
	for dec.More() {
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, err
		}
		var item struct {
			UUID string `json:"uuid"`
		}
		if err := json.Unmarshal(raw, &item); err != nil {
			return nil, err
		}
		rows = append(rows, []any{item.UUID, []byte(raw)})
	}
	return rows, nil
}

// benchCatalogue times, Runs times in turn, the floor and our server (a fresh one on its own
// database) with the catalogue into a new store, then re-sent into the same store, so that a
// change in the machine's other load falls on all three alike.
func benchCatalogue(ctx context.Context, pg postgres, bins binaries, dir string, o catalogueOptions) (catalogueResult, error) {
	body := catalogue(o.Bytes)
	res := catalogueResult{Bytes: len(body)}
	floorURL, err := pg.freshDatabase(ctx, "bench_floor")
	if err != nil {
		return res, err
	}
	dbURL, err := pg.freshDatabase(ctx, "bench_catalogue")
	if err != nil {
		return res, err
	}
	p, err := startPartner(ctx, "partner-catalogue", dir, bins.partner, dbURL)
	if err != nil {
		return res, err
	}
	defer p.stop()
	token, err := createUser(p.URL, p.appToken, benchUserID)
	if err != nil {
		return res, err
	}
	idleRSS, idlePeak, err := p.memory()
	if err != nil {
		return res, err
	}
	var floor, fresh, resent []time.Duration
	var peakRSS int64
	for run := range o.Runs {
		d, n, err := copyFloor(ctx, floorURL, body, run)
		if err != nil {
			return res, fmt.Errorf("COPY floor: %w", err)
		}
		floor, res.Products = append(floor, d), n
		store := uuid.NewString()
		for _, timings := range []*[]time.Duration{&fresh, &resent} {
			d, peak, err := sendCatalogue(p, token, store, body)
			if err != nil {
				return res, err
			}
			*timings, peakRSS = append(*timings, d), max(peakRSS, peak)
		}
	}
	if _, hwm, err := p.memory(); err == nil && hwm > idlePeak {
		peakRSS = max(peakRSS, hwm) // a peak between two samples
	}
	res.Floor, res.New, res.Resent = median(floor), median(fresh), median(resent)
	res.RSSGrowth = peakRSS - idleRSS
	return res, nil
}

// sendCatalogue posts the body to the store and returns how long the answer took, and the
// highest resident set seen while it was in flight (sampled every 5 ms).
func sendCatalogue(p *partner, token, store string, body []byte) (time.Duration, int64, error) {
	req, err := http.NewRequest(http.MethodPost, p.URL+"/api/v1/inventories/stores/"+store+"/products", bytes.NewReader(body))
	if err != nil {
		return 0, 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	stopSampling, peak := samplePeakRSS(p, 5*time.Millisecond)
	start := time.Now()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		stopSampling()
		return 0, 0, err
	}
	answer, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	elapsed := time.Since(start)
	stopSampling()
	if resp.StatusCode != http.StatusOK {
		return 0, 0, fmt.Errorf("products: %d %s", resp.StatusCode, answer)
	}
	return elapsed, *peak, nil
}

// samplePeakRSS reads p's VmRSS every interval until stop is called; *peak is the highest.
func samplePeakRSS(p *partner, interval time.Duration) (stop func(), peak *int64) {
	peak = new(int64)
	done, finished := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(finished)
		ticker := time.NewTicker(interval)
		defer ticker.Stop()
		for {
			if rss, _, err := p.memory(); err == nil {
				*peak = max(*peak, rss)
			}
			select {
			case <-done:
				return
			case <-ticker.C:
			}
		}
	}()
	return func() { close(done); <-finished }, peak
}

// median of xs (the upper one of an even count); zero for none.
func median[T cmp.Ordered](xs []T) T {
	if len(xs) == 0 {
		var zero T
		return zero
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}
