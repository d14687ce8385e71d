package main

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/evotor-partner/evotor-partner/cmd/evotor-cloud/cloud"
)

// Which operations are forwarded, and how often a body sent again is (README, Forwarding): a
// receipt, subscription event or installation event already stored is not forwarded again;
// a list (stores, devices, employees, products, documents) sent again is, though it changes
// nothing stored.
var (
	forwardedOnce  = map[string]bool{"postReceipts": true, "subscriptionEvent": true, "installationEvent": true}
	forwardedEvery = map[string]bool{"putStores": true, "putDevices": true, "putEmployees": true, "createProducts": true, "putDocuments": true}
)

// soakLedger compares what the load had acknowledged (answered 200) with what the receiver got
// and what the server counted.
type soakLedger struct {
	Acknowledged   int // deliveries of forwarded operations answered 200, the setup's included
	Bodies         int // of them, distinct bodies
	Received       int // distinct messages (webhook-ids) the receiver got
	Lost           int // acknowledged deliveries no message carried
	Twice          int // receipts and events carried by more than one message (stored twice)
	NotAcked       int // messages of bodies sent but never answered 200 (the sender gave up; Evotor re-sends)
	Unexpected     int // messages of bodies never sent
	Undecoded      int // messages that were not the documented JSON
	OutOfOrder     int // messages whose seq was not above their user's previous one
	Duplicates     int // messages received again with a webhook-id already received (at least once)
	Stored         int // the server's deliveries_total{outcome="stored"}
	Redelivered    int // the server's deliveries_total{outcome="redelivered"}
	Pending, Dead  int // forwarding's, after the drain
	ForwardedTotal int // the server's forward_delivered_total
}

// ok: every acknowledged delivery stored once and forwarded, every stored delivery received,
// nothing left pending or dead, every message as documented and in order.
func (l soakLedger) ok() bool {
	return l.Lost == 0 && l.Twice == 0 && l.Unexpected == 0 && l.Undecoded == 0 && l.OutOfOrder == 0 &&
		l.Pending == 0 && l.Dead == 0 && l.Received == l.Stored && l.Acknowledged > 0
}

func (l soakLedger) String() string {
	s := fmt.Sprintf("%d acknowledged (%d bodies), %d stored, %d received; lost %d, stored twice %d, pending %d, dead %d",
		l.Acknowledged, l.Bodies, l.Stored, l.Received, l.Lost, l.Twice, l.Pending, l.Dead)
	for _, extra := range []struct {
		n    int
		what string
	}{{l.Unexpected, "never sent"}, {l.Undecoded, "not the documented JSON"}, {l.OutOfOrder, "out of order"}} {
		if extra.n > 0 {
			s += fmt.Sprintf(", %d %s", extra.n, extra.what)
		}
	}
	return s
}

// sentBody is what the load's answers say of one body.
type sentBody struct {
	op           string
	acknowledged int // answers 200
}

// checkLedger reads the load's answers (`evotor-cloud load --answers`: status, operationId,
// kind, SHA-256 of the body per line) and holds them against the receiver and the metrics.
func checkLedger(answersPath string, rcv *soakReceiver, m cloud.Metrics) (soakLedger, error) {
	f, err := os.Open(answersPath)
	if err != nil {
		return soakLedger{}, err
	}
	defer f.Close()
	sent, err := readAnswers(f)
	if err != nil {
		return soakLedger{}, err
	}
	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	l := soakLedger{Received: rcv.messages, Undecoded: rcv.undecoded, OutOfOrder: rcv.outOfOrder, Duplicates: rcv.duplicates,
		Stored:         int(m.Sum("evotor_partner_deliveries_total", map[string]string{"outcome": "stored"})),
		Redelivered:    int(m.Sum("evotor_partner_deliveries_total", map[string]string{"outcome": "redelivered"})),
		Pending:        int(m.Sum(cloud.ForwardPending, nil)),
		Dead:           int(m.Sum("evotor_partner_forward_dead", nil)),
		ForwardedTotal: int(m.Sum("evotor_partner_forward_delivered_total", nil))}
	for sum, b := range sent {
		got := rcv.byBody[sum]
		if b.acknowledged == 0 {
			l.NotAcked += got
			continue
		}
		l.Acknowledged += b.acknowledged
		l.Bodies++
		if forwardedOnce[b.op] {
			if got == 0 {
				l.Lost++
			}
			l.Twice += max(got-1, 0)
		} else {
			l.Lost += max(b.acknowledged-got, 0) // each acknowledged list is a message of its own
		}
	}
	for sum, got := range rcv.byBody {
		if _, ok := sent[sum]; !ok {
			l.Unexpected += got
		}
	}
	return l, nil
}

// readAnswers reads the answers of the forwarded operations, by body.
func readAnswers(r io.Reader) (map[[32]byte]*sentBody, error) {
	sent := map[[32]byte]*sentBody{}
	lines := bufio.NewScanner(r)
	for lines.Scan() {
		fields := strings.Split(lines.Text(), "\t")
		if len(fields) != 4 {
			return nil, fmt.Errorf("answers: a line of %d fields: %q", len(fields), lines.Text())
		}
		status, op, digest := fields[0], fields[1], fields[3]
		if !forwardedOnce[op] && !forwardedEvery[op] {
			continue // user/create, user/token: not forwarded
		}
		raw, err := hex.DecodeString(digest)
		if err != nil || len(raw) != sha256.Size {
			return nil, fmt.Errorf("answers: %q is not a SHA-256", digest)
		}
		sum := [32]byte(raw)
		b := sent[sum]
		if b == nil {
			b = &sentBody{op: op}
			sent[sum] = b
		}
		if status == "200" {
			b.acknowledged++
		}
	}
	return sent, lines.Err()
}

func sha256Of(b []byte) [32]byte { return sha256.Sum256(b) }
