package restsim

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/evotor-partner/evotor-partner/generated"
)

// Recorder keeps the Model and Tokens up to date with what the simulated Cloud sends the
// partner, so that Evotor's API serves what its webhooks told:
//   - user/token (storeCloudToken): the token becomes the user's cloud token (Tokens.Set);
//   - putStores, putDevices, putEmployees, createProducts, putDocuments: their items are
//     recorded for the user whose user token the webhook carries, whatever the partner
//     answered (Evotor has the records either way);
//   - user/create and user/verify: the partner's answer says whose user token it returned;
//     a receipt's userId says the same of the token it was sent with;
//   - ApplicationUninstalled: the user's cloud token is revoked, with RevokeOnUninstall.
//
// Wrap the Cloud's HTTP client with Doer (nothing else changes), or tell each delivery to
// Webhook. The zero value needs Model and Tokens set.
type Recorder struct {
	Model  *Model
	Tokens *Tokens
	// RevokeOnUninstall revokes a user's cloud token when the Cloud sends ApplicationUninstalled,
	// as Evotor does. Off by default: the lifecycle ends with an uninstall, and the API is
	// meant to be read after it.
	RevokeOnUninstall bool
	// Drop, when set, is asked of every webhook that carries records (putStores, putDevices,
	// putEmployees, createProducts, putDocuments); when it says true, Doer records the webhook
	// but does not send it, and answers 200 for the partner: a webhook the partner missed.
	Drop func(op string) bool

	mu           sync.Mutex
	userOf       map[string]string // the partner's user token → the Evotor user
	dropped      atomic.Int64
	unattributed atomic.Int64
}

// Dropped counts the webhooks Drop kept from the partner.
func (r *Recorder) Dropped() int64 { return r.dropped.Load() }

// Unattributed counts the webhooks with records whose user token no user/create, user/verify
// or receipt had told of (BindUserToken tells it): not recorded.
func (r *Recorder) Unattributed() int64 { return r.unattributed.Load() }

// BindUserToken says whose user token this is (the partner's token, as webhooks carry it).
func (r *Recorder) BindUserToken(userToken, userID string) {
	if userToken == "" || userID == "" {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.userOf == nil {
		r.userOf = map[string]string{}
	}
	r.userOf[userToken] = userID
}

func (r *Recorder) userFor(authorization string) (string, bool) {
	token := userToken(authorization)
	r.mu.Lock()
	defer r.mu.Unlock()
	user, ok := r.userOf[token]
	return user, ok && token != ""
}

// userToken is the token in an Authorization header, with or without "Bearer ".
func userToken(authorization string) string {
	a := strings.TrimSpace(authorization)
	if scheme, rest, ok := strings.Cut(a, " "); ok && strings.EqualFold(scheme, "Bearer") {
		return strings.TrimSpace(rest)
	}
	return a
}

// Webhook records one delivery: the partner contract's operationId, the path's storeUuid (for
// products and documents), the Authorization it was sent with, its body, and the partner's
// answer (status 0 when none came, or it was not sent).
func (r *Recorder) Webhook(op, store, authorization string, body []byte, status int, answer []byte) {
	switch op {
	case "createUser", "verifyUser":
		var a struct{ UserID, Token string }
		if status == http.StatusOK && json.Unmarshal(answer, &a) == nil {
			r.BindUserToken(a.Token, a.UserID)
		}
	case "storeCloudToken":
		var t struct{ UserID, UserUUID, Token string }
		if json.Unmarshal(body, &t) == nil && t.Token != "" {
			r.Tokens.Set(firstOf(t.UserID, t.UserUUID), t.Token)
		}
	case "installationEvent":
		var e struct {
			Type string
			Data struct{ UserID, UserUUID string }
		}
		if r.RevokeOnUninstall && json.Unmarshal(body, &e) == nil && e.Type == "ApplicationUninstalled" {
			r.Tokens.Revoke(firstOf(e.Data.UserID, e.Data.UserUUID))
		}
	case "postReceipts":
		if _, known := r.userFor(authorization); !known {
			var rc struct{ UserID string }
			if json.Unmarshal(body, &rc) == nil {
				r.BindUserToken(userToken(authorization), rc.UserID)
			}
		}
	default:
		if _, carries := webhookKinds[op]; !carries {
			return
		}
		user, known := r.userFor(authorization)
		if !known {
			r.unattributed.Add(1)
			return
		}
		_, _ = r.Model.PutWebhook(user, op, store, body) // what the model cannot read, the partner refuses too
	}
}

func firstOf(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// Doer wraps the Cloud's HTTP client (cloud.Config.Doer; nil: http.DefaultClient): every
// request it sends to the partner is recorded with Webhook, and dropped when Drop says so.
func (r *Recorder) Doer(next generated.HttpRequestDoer) generated.HttpRequestDoer {
	if next == nil {
		next = http.DefaultClient
	}
	return recordingDoer{r, next}
}

type recordingDoer struct {
	r    *Recorder
	next generated.HttpRequestDoer
}

func (d recordingDoer) Do(req *http.Request) (*http.Response, error) {
	op, store := webhookOf(req.Method, req.URL)
	if op == "" || op == "subscriptionEvent" {
		return d.next.Do(req)
	}
	var body []byte
	if req.Body != nil {
		var err error
		if body, err = io.ReadAll(req.Body); err != nil {
			return nil, err
		}
		_ = req.Body.Close()
		req.Body = io.NopCloser(bytes.NewReader(body))
		req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	}
	auth := req.Header.Get("Authorization")
	if _, carries := webhookKinds[op]; carries && d.r.Drop != nil && d.r.Drop(op) {
		d.r.dropped.Add(1)
		d.r.Webhook(op, store, auth, body, 0, nil)
		return &http.Response{StatusCode: http.StatusOK, Status: "200 OK", Header: http.Header{}, Body: http.NoBody,
			Request: req, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1}, nil
	}
	resp, err := d.next.Do(req)
	if err != nil {
		d.r.Webhook(op, store, auth, body, 0, nil)
		return resp, err
	}
	var answer []byte
	if op == "createUser" || op == "verifyUser" {
		answer, err = io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		resp.Body = io.NopCloser(bytes.NewReader(answer))
		if err != nil {
			return resp, nil // the Cloud reads the same short body and judges it
		}
	}
	d.r.Webhook(op, store, auth, body, resp.StatusCode, answer)
	return resp, nil
}

// webhookPath is one webhook of the partner contract (openapi/openapi.yaml) the recorder reads.
type webhookPath struct {
	method, op string
	segments   []string // the path's segments, "{storeUuid}" for the store
}

// recorded are the webhooks the recorder reads; their paths come from the partner contract.
var recorded = map[string]bool{"createUser": true, "verifyUser": true, "storeCloudToken": true, "subscriptionEvent": true,
	"installationEvent": true, "createProducts": true, "putDocuments": true, "putDevices": true, "putEmployees": true,
	"putStores": true, "postReceipts": true}

var webhookPaths = sync.OnceValue(func() []webhookPath {
	spec, err := generated.GetSpec()
	if err != nil {
		panic("the partner contract embedded in generated/: " + err.Error())
	}
	var out []webhookPath
	for path, item := range spec.Paths.Map() {
		for method, op := range item.Operations() {
			if op.OperationID == "" {
				continue
			}
			id := strings.ToLower(op.OperationID[:1]) + op.OperationID[1:] // embedded as Go names: CreateUser
			if recorded[id] {
				out = append(out, webhookPath{method, id, strings.Split(strings.Trim(path, "/"), "/")})
			}
		}
	}
	return out
})

// webhookOf names the webhook a request to the partner is, and its store: the path's end is
// matched, so a partner served under a prefix is read too.
func webhookOf(method string, u *url.URL) (op, store string) {
	segs := strings.Split(strings.Trim(u.EscapedPath(), "/"), "/")
	for _, w := range webhookPaths() {
		if w.method != method || len(segs) < len(w.segments) {
			continue
		}
		tail, store := segs[len(segs)-len(w.segments):], ""
		matched := true
		for i, s := range w.segments {
			if s == "{storeUuid}" {
				store, _ = url.PathUnescape(tail[i])
			} else if tail[i] != s {
				matched = false
				break
			}
		}
		if matched {
			return w.op, store
		}
	}
	return "", ""
}
