package forward

import (
	"bytes"
	"encoding/json"
	"strconv"
	"time"

	"github.com/evotor-partner/evotor-partner/impl/storage"
)

// Message is the JSON body POSTed to a destination: one accepted delivery.
type Message struct {
	// ID is also the webhook-id header: the same on every attempt and re-send, so a receiver
	// dedupes by it (delivery is at least once).
	ID        string `json:"id"`
	Operation string `json:"operation"` // the operationId in openapi/openapi.yaml
	// UserID is the Evotor user the delivery is about; null for none.
	UserID *string `json:"userId"`
	// Seq numbers one user's messages (1, 2, …); they arrive in this order.
	Seq        int64             `json:"seq"`
	PathParams map[string]string `json:"pathParams"`
	ReceivedAt time.Time         `json:"receivedAt"`
	// Body is the request body exactly as Evotor sent it.
	Body json.RawMessage `json:"body"`
}

// MessageID is a delivery's webhook-id: its inbox row, the same for every destination.
func MessageID(inboxID int64) string { return "msg_" + strconv.FormatInt(inboxID, 10) }

// encode renders the message a row carries, its body spliced in byte for byte: json.Marshal
// would compact a json.RawMessage and escape its <, > and &, so the receiver would get another
// text than Evotor sent (and a signature over that).
func encode(m storage.Outgoing) ([]byte, error) {
	msg := Message{ID: MessageID(m.InboxID), Operation: m.Operation, Seq: m.Seq,
		ReceivedAt: m.ReceivedAt.UTC(), Body: json.RawMessage("null")}
	if m.EvotorUserID != "" {
		msg.UserID = &m.EvotorUserID
	}
	if err := json.Unmarshal([]byte(m.PathParams), &msg.PathParams); err != nil || msg.PathParams == nil {
		msg.PathParams = map[string]string{}
	}
	body := m.Body
	if !json.Valid(body) { // every accepted body is JSON; never send an invalid message anyway
		body, _ = json.Marshal(string(m.Body))
	}
	head, err := json.Marshal(msg)
	if err != nil {
		return nil, err
	}
	// head ends in "body":null} (Body is the last field): replace null with the body as sent.
	head = bytes.TrimSuffix(head, []byte("null}"))
	return append(append(head, body...), '}'), nil
}
