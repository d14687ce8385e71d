package storage

import (
	"strings"
	"testing"

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
