package storage

import (
	"context"
	"strings"
	"testing"
	"time"

	"pgregory.net/rapid"
)

// TestOnlySmallBatchesRunOnNestedLoops: a batch runs on the nested-loop plan exactly when its
// receipts and items together are at most smallPlanRows (nested loops grow with the square of
// the rows); a larger one keeps PostgreSQL's joins.
func TestOnlySmallBatchesRunOnNestedLoops(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		var batch []*receiptDelivery
		rows := 0
		for range rapid.IntRange(1, maxReceiptBatch).Draw(t, "deliveries") {
			d := &receiptDelivery{}
			for range rapid.IntRange(0, 20).Draw(t, "receipts") {
				items := rapid.IntRange(0, 30).Draw(t, "items")
				d.receipts = append(d.receipts, ReceiptRow{Items: make([]ReceiptItemRow, items)})
				rows += 1 + items
			}
			batch = append(batch, d)
		}
		if got, want := smallPlan(batch), rows <= smallPlanRows; got != want {
			t.Fatalf("%d rows: small plan %v", rows, got)
		}
	})
	if strings.Contains(largePlanSettings, "enable_") || !strings.Contains(smallPlanSettings, "'enable_hashjoin', 'off'") {
		t.Fatal("the large batches' plan must keep PostgreSQL's joins, the small ones' must not hash")
	}
}

// TestLoneDeliveryWaitsBrieflyForCompany: a flusher that finds one delivery waits up to
// receiptLinger for a second to share its statement; alone, it goes with a batch of one; a
// full queue is taken at once.
func TestLoneDeliveryWaitsBrieflyForCompany(t *testing.T) {
	delivery := func(id string) *receiptDelivery {
		return &receiptDelivery{ctx: context.Background(), receipts: []ReceiptRow{{ID: id}}, done: make(chan receiptOutcome, 1)}
	}
	queue := make(chan *receiptDelivery, 8)
	queue <- delivery("a")
	go func() { queue <- delivery("b") }() // arrives while the flusher drains or lingers
	// A second's linger here: a goroutine on a loaded machine can take longer than the
	// product's half millisecond to run, and that is the machine, not the rule.
	if batch, carry := nextReceiptBatch(context.Background(), queue, nil, time.Second); len(batch) != 2 || carry != nil {
		t.Fatalf("a second delivery within the linger: batch of %d, carried %v", len(batch), carry)
	}
	queue <- delivery("c")
	if batch, _ := nextReceiptBatch(context.Background(), queue, nil, receiptLinger); len(batch) != 1 {
		t.Fatalf("alone: batch of %d", len(batch))
	}
	for _, id := range []string{"d", "e", "f"} {
		queue <- delivery(id)
	}
	if batch, _ := nextReceiptBatch(context.Background(), queue, nil, receiptLinger); len(batch) != 3 {
		t.Fatalf("queued together: batch of %d", len(batch))
	}
}
