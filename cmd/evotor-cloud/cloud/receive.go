package cloud

import (
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/evotor-partner/evotor-partner/security/webhook"
)

// Receiver is the partner's end of forwarding, as `evotor-cloud receive` runs it: it verifies
// each message's Standard Webhooks signature (401 when missing, wrong, or too old) and hands
// each message to Deliver once per webhook-id (delivery is at least once: a message the server
// sent again is answered 200 and not handed on twice).
type Receiver struct {
	Secret webhook.Secret
	// Deliver takes one verified message; an error answers 500, so the server sends it again.
	Deliver func(id string, body []byte) error
	// Duplicate, when set, is told of each message received again.
	Duplicate func(id string)
	Now       func() time.Time // nil: time.Now

	mu   sync.Mutex
	seen map[string]bool
}

// MaxMessage is the largest message body a Receiver reads (Evotor's bodies reach 10 MB).
const MaxMessage = 32 << 20

func (r *Receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if req.Method != http.MethodPost {
		http.Error(w, "POST only", http.StatusMethodNotAllowed)
		return
	}
	body, err := io.ReadAll(io.LimitReader(req.Body, MaxMessage))
	if err != nil {
		http.Error(w, "reading the body", http.StatusBadRequest)
		return
	}
	now := time.Now()
	if r.Now != nil {
		now = r.Now()
	}
	id, err := r.Secret.Verify(req.Header, body, now)
	if err != nil {
		http.Error(w, "signature: "+err.Error(), http.StatusUnauthorized)
		return
	}
	r.mu.Lock() // one message at a time: the order they arrive in is the order handed on
	defer r.mu.Unlock()
	if r.seen[id] {
		if r.Duplicate != nil {
			r.Duplicate(id)
		}
		w.WriteHeader(http.StatusOK)
		return
	}
	if err := r.Deliver(id, body); err != nil {
		http.Error(w, "not handled: "+err.Error(), http.StatusInternalServerError)
		return
	}
	if r.seen == nil {
		r.seen = map[string]bool{}
	}
	r.seen[id] = true
	w.WriteHeader(http.StatusOK)
}
