package evotorapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/evotor-partner/evotor-partner/generated/evotorrest"
)

func TestEveryRequestCarriesTheMediaTypeAndTheBearerToken(t *testing.T) {
	stub := newStub(t, func(n int, r seen, w http.ResponseWriter) {
		switch {
		case r.Method == http.MethodGet:
			answerJSON(w, 200, `{"items":[],"paging":{}}`)
		case r.Method == http.MethodPost && r.Header.Get("Content-Type") == BulkMediaType:
			answerJSON(w, 202, `{"id":"task-1","status":"ACCEPTED"}`)
		case r.Method == http.MethodPut:
			answerJSON(w, 202, `{"id":"task-2","status":"ACCEPTED"}`)
		default:
			answerJSON(w, 200, `{"id":"p-1","name":"Сидр"}`)
		}
	})
	c, _ := newTestClient(t, stub.srv.URL, Config{})
	s := c.Session(NewCloudToken(testToken))
	ctx := context.Background()

	if _, err := collect(s.Stores(ctx)); err != nil {
		t.Fatal(err)
	}
	name := "Сидр"
	if _, err := s.CreateProduct(ctx, "store-1", Product{Name: &name}); err != nil {
		t.Fatal(err)
	}
	task, err := s.CreateProducts(ctx, "store-1", []Product{{Name: &name}, {Name: &name}})
	if err != nil || task.ID != "task-1" {
		t.Fatalf("bulk create: %+v, %v", task, err)
	}
	if _, err := s.ReplaceProducts(ctx, "store-1", []Product{{Name: &name}}); err != nil {
		t.Fatal(err)
	}

	reqs := stub.requests()
	if len(reqs) != 4 {
		t.Fatalf("%d requests, want 4", len(reqs))
	}
	for _, r := range reqs {
		if got := r.Header.Get("Accept"); got != MediaType {
			t.Errorf("%s %s: Accept %q, want %q", r.Method, r.Path, got, MediaType)
		}
		if got := r.Header.Get("Authorization"); got != "Bearer "+testToken {
			t.Errorf("%s %s: Authorization is not the bearer token", r.Method, r.Path)
		}
		if r.Header.Get("X-Authorization") != "" {
			t.Errorf("%s %s: the token also went in X-Authorization", r.Method, r.Path)
		}
	}
	if reqs[0].Path != "/stores" || reqs[0].Header.Get("Content-Type") != "" {
		t.Errorf("list: %s, Content-Type %q", reqs[0].Path, reqs[0].Header.Get("Content-Type"))
	}
	for i, want := range map[int]string{1: MediaType, 2: BulkMediaType, 3: BulkMediaType} {
		if got := reqs[i].Header.Get("Content-Type"); got != want {
			t.Errorf("request %d (%s %s): Content-Type %q, want %q", i, reqs[i].Method, reqs[i].Path, got, want)
		}
	}
	if reqs[1].Method != http.MethodPost || reqs[1].Path != "/stores/store-1/products" || !bytes.HasPrefix(reqs[1].Body, []byte("{")) {
		t.Errorf("single create: %s %s %s", reqs[1].Method, reqs[1].Path, reqs[1].Body)
	}
	var bulk []map[string]any
	if err := json.Unmarshal(reqs[2].Body, &bulk); err != nil || len(bulk) != 2 {
		t.Errorf("bulk create body %s: want an array of 2 (%v)", reqs[2].Body, err)
	}
	if reqs[3].Method != http.MethodPut || reqs[3].Path != "/stores/store-1/products" {
		t.Errorf("bulk replace: %s %s", reqs[3].Method, reqs[3].Path)
	}
}

func TestPagingFollowsNextCursorAndSendsFiltersOnlyFirst(t *testing.T) {
	cursors := []string{"AcCvBTmg5+/Zu=", "second page&x=1"}
	stub := newStub(t, func(n int, r seen, w http.ResponseWriter) {
		switch n {
		case 0:
			answerJSON(w, 200, `{"items":[{"id":"p1"},{"id":"p2"}],"paging":{"next_cursor":`+strconv.Quote(cursors[0])+`}}`)
		case 1:
			answerJSON(w, 200, `{"paging":{"next_cursor":`+strconv.Quote(cursors[1])+`},"items":[{"id":"p3"}]}`)
		default:
			answerJSON(w, 200, `{"items":[{"id":"p4"},{"id":"p5"}],"paging":{}}`)
		}
	})
	c, _ := newTestClient(t, stub.srv.URL, Config{})
	since := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	items, err := collect(c.Session(NewCloudToken(testToken)).Products(context.Background(), "store-1", ProductFilter{Since: since}))
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, it := range items {
		ids = append(ids, it.ID)
	}
	if got := strings.Join(ids, ","); got != "p1,p2,p3,p4,p5" {
		t.Fatalf("items %s, want p1..p5 in order", got)
	}
	reqs := stub.requests()
	if len(reqs) != 3 {
		t.Fatalf("%d requests, want 3", len(reqs))
	}
	if got := reqs[0].Query.Get("since"); got != strconv.FormatInt(since.UnixMilli(), 10) || reqs[0].Query.Has("cursor") {
		t.Errorf("first page query %v: want since=%d and no cursor", reqs[0].Query, since.UnixMilli())
	}
	for i, want := range cursors {
		q := reqs[i+1].Query
		if q.Get("cursor") != want || q.Has("since") || len(q) != 1 {
			t.Errorf("page %d query %v: want only cursor=%q", i+2, q, want)
		}
	}
}

func TestTheLastPageIsRecognisedInEveryForm(t *testing.T) {
	for name, last := range map[string]string{
		"empty paging":   `{"items":[{"id":"a"}],"paging":{}}`,
		"null cursor":    `{"items":[{"id":"a"}],"paging":{"next_cursor":null}}`,
		"empty cursor":   `{"items":[{"id":"a"}],"paging":{"next_cursor":""}}`,
		"no paging":      `{"items":[{"id":"a"}]}`,
		"a bare array":   `[{"id":"a"}]`,
		"unknown fields": `{"total":1,"items":[{"id":"a"}],"paging":{"prev_cursor":"x"},"extra":[1,2]}`,
	} {
		t.Run(name, func(t *testing.T) {
			stub := newStub(t, func(int, seen, http.ResponseWriter) {})
			stub.reply = func(n int, r seen, w http.ResponseWriter) { answerJSON(w, 200, last) }
			c, _ := newTestClient(t, stub.srv.URL, Config{})
			items, err := collect(c.Session(NewCloudToken(testToken)).Stores(context.Background()))
			if err != nil || len(items) != 1 || items[0].ID != "a" || len(stub.requests()) != 1 {
				t.Fatalf("items %v, err %v, %d requests: want one item from one request", items, err, len(stub.requests()))
			}
		})
	}
}

func TestARepeatedCursorStopsThePaging(t *testing.T) {
	stub := newStub(t, func(n int, r seen, w http.ResponseWriter) {
		answerJSON(w, 200, `{"items":[{"id":"x`+strconv.Itoa(n)+`"}],"paging":{"next_cursor":"same"}}`)
	})
	c, _ := newTestClient(t, stub.srv.URL, Config{})
	items, err := collect(c.Session(NewCloudToken(testToken)).Stores(context.Background()))
	if err == nil || !strings.Contains(err.Error(), "repeats") {
		t.Fatalf("err %v, want the repeated cursor named", err)
	}
	if len(items) != 2 || len(stub.requests()) != 2 {
		t.Fatalf("%d items from %d requests, want 2 and 2", len(items), len(stub.requests()))
	}
}

func TestBreakingOutOfTheLoopStopsThePaging(t *testing.T) {
	stub := newStub(t, func(n int, r seen, w http.ResponseWriter) {
		answerJSON(w, 200, `{"items":[{"id":"a"},{"id":"b"}],"paging":{"next_cursor":"c`+strconv.Itoa(n)+`"}}`)
	})
	c, _ := newTestClient(t, stub.srv.URL, Config{})
	for it, err := range c.Session(NewCloudToken(testToken)).Stores(context.Background()) {
		if err != nil || it.ID == "b" {
			break
		}
	}
	if n := len(stub.requests()); n != 1 {
		t.Fatalf("%d requests after breaking on the first page, want 1", n)
	}
}

func TestA429IsRetriedAfterTheWaitEvotorAsks(t *testing.T) {
	for name, tc := range map[string]struct {
		header, value string
		want          time.Duration
	}{
		"Retry-After seconds":           {"Retry-After", "3", 3 * time.Second},
		"Retry-After date":              {"Retry-After", "Fri, 04 Dec 2026 10:00:07 GMT", 7 * time.Second},
		"X-RateLimit-Reset seconds":     {"X-RateLimit-Reset", "4", 4 * time.Second},
		"X-RateLimit-Reset Unix":        {"X-RateLimit-Reset", strconv.FormatInt(time.Date(2026, 12, 4, 10, 0, 5, 0, time.UTC).Unix(), 10), 5 * time.Second},
		"X-RateLimit-Reset Unix millis": {"X-RateLimit-Reset", strconv.FormatInt(time.Date(2026, 12, 4, 10, 0, 6, 0, time.UTC).UnixMilli(), 10), 6 * time.Second},
		"RateLimit-Reset":               {"RateLimit-Reset", "2", 2 * time.Second},
	} {
		t.Run(name, func(t *testing.T) {
			stub := newStub(t, func(n int, r seen, w http.ResponseWriter) {
				if n == 0 {
					w.Header().Set(tc.header, tc.value)
					w.Header().Set("X-RateLimit-Remaining", "0")
					answerJSON(w, 429, `{"message":"too many requests"}`)
					return
				}
				answerJSON(w, 200, `{"id":"s1","name":"Мой магазин"}`)
			})
			c, clock := newTestClient(t, stub.srv.URL, Config{})
			it, err := c.Session(NewCloudToken(testToken)).Store(context.Background(), "s1")
			if err != nil || it.ID != "s1" {
				t.Fatalf("store %+v, err %v", it, err)
			}
			if n := len(stub.requests()); n != 2 {
				t.Fatalf("%d requests, want 2", n)
			}
			var total time.Duration
			for _, d := range clock.Slept() {
				total += d
			}
			if total != tc.want {
				t.Fatalf("waited %v (%v), want %v", total, clock.Slept(), tc.want)
			}
		})
	}
}

func TestA429WithoutAHintBacksOffAndIsRetriedForWritesToo(t *testing.T) {
	stub := newStub(t, func(n int, r seen, w http.ResponseWriter) {
		if n < 2 {
			answerJSON(w, 429, ``)
			return
		}
		answerJSON(w, 200, `{"id":"new"}`)
	})
	c, clock := newTestClient(t, stub.srv.URL, Config{BaseDelay: 100 * time.Millisecond})
	it, err := c.Session(NewCloudToken(testToken)).CreateProduct(context.Background(), "s", Product{})
	if err != nil || it.ID != "new" {
		t.Fatalf("create %+v, %v", it, err)
	}
	slept := clock.Slept()
	if len(slept) != 2 || slept[0] < 50*time.Millisecond || slept[0] > 100*time.Millisecond ||
		slept[1] < 100*time.Millisecond || slept[1] > 200*time.Millisecond {
		t.Fatalf("waits %v, want ~100ms then ~200ms (half of each random)", slept)
	}
}

func TestAWaitLongerThanMaxDelayReturnsAtOnce(t *testing.T) {
	stub := newStub(t, func(n int, r seen, w http.ResponseWriter) {
		w.Header().Set("Retry-After", "120")
		answerJSON(w, 429, `{"code":"rate_limited","message":"too many"}`)
	})
	c, clock := newTestClient(t, stub.srv.URL, Config{MaxDelay: 30 * time.Second})
	_, err := c.Session(NewCloudToken(testToken)).Store(context.Background(), "s1")
	var apiErr *APIError
	if !errors.Is(err, ErrRateLimited) || !errors.As(err, &apiErr) || apiErr.RetryAfter != 120*time.Second {
		t.Fatalf("err %v, want ErrRateLimited with RetryAfter 2m", err)
	}
	if len(stub.requests()) != 1 || len(clock.Slept()) != 0 {
		t.Fatalf("%d requests, waits %v: want one request, no wait", len(stub.requests()), clock.Slept())
	}
}

func TestServerErrorsAreRetriedABoundedNumberOfTimes(t *testing.T) {
	stub := newStub(t, func(n int, r seen, w http.ResponseWriter) { answerJSON(w, 503, `{"message":"maintenance"}`) })
	c, clock := newTestClient(t, stub.srv.URL, Config{MaxAttempts: 4, BaseDelay: time.Second, MaxDelay: 3 * time.Second})
	_, err := collect(c.Session(NewCloudToken(testToken)).Employees(context.Background(), StoreFilter{}))
	var apiErr *APIError
	if !errors.Is(err, ErrUnavailable) || !errors.As(err, &apiErr) || apiErr.Status != 503 || apiErr.Attempts != 4 {
		t.Fatalf("err %v, want ErrUnavailable, 503, 4 attempts", err)
	}
	if n := len(stub.requests()); n != 4 {
		t.Fatalf("%d requests, want 4", n)
	}
	slept := clock.Slept()
	if len(slept) != 3 {
		t.Fatalf("waits %v, want 3", slept)
	}
	for i, d := range slept {
		ceiling := min(time.Second<<i, 3*time.Second)
		if d < ceiling/2 || d > ceiling {
			t.Errorf("wait %d: %v, want within [%v, %v]", i+1, d, ceiling/2, ceiling)
		}
	}
}

func TestACreateIsNotRetriedAfterAServerError(t *testing.T) {
	stub := newStub(t, func(n int, r seen, w http.ResponseWriter) { answerJSON(w, 502, ``) })
	c, _ := newTestClient(t, stub.srv.URL, Config{})
	_, err := c.Session(NewCloudToken(testToken)).CreateProducts(context.Background(), "s", []Product{{}})
	if !errors.Is(err, ErrUnavailable) || len(stub.requests()) != 1 {
		t.Fatalf("err %v after %d requests, want ErrUnavailable after 1 (a retried create could create twice)", err, len(stub.requests()))
	}
}

func TestErrorStatusesMapToOutcomes(t *testing.T) {
	for status, want := range map[int]error{
		401: ErrTokenInvalid, 402: ErrNotInstalled, 403: ErrScope, 404: ErrNotFound, 400: ErrBadRequest, 409: ErrBadRequest,
	} {
		t.Run(strconv.Itoa(status), func(t *testing.T) {
			stub := newStub(t, func(n int, r seen, w http.ResponseWriter) {
				answerJSON(w, status, `{"code":"validation_failed","message":"validation failed for specified payload","violations":[{"reason":"must not be null","subject":"name"}]}`)
			})
			c, _ := newTestClient(t, stub.srv.URL, Config{})
			_, err := c.Session(NewCloudToken(testToken)).Product(context.Background(), "s", "p")
			var apiErr *APIError
			if !errors.Is(err, want) || !errors.As(err, &apiErr) || apiErr.Status != status {
				t.Fatalf("err %v, want %v", err, want)
			}
			if len(stub.requests()) != 1 {
				t.Fatalf("%d requests: a %d is not retried", len(stub.requests()), status)
			}
			if apiErr.Code != "validation_failed" || len(apiErr.Violations) != 1 || apiErr.Violations[0] != (Violation{Subject: "name", Reason: "must not be null"}) {
				t.Fatalf("error body read as %+v", apiErr)
			}
			if msg := err.Error(); !strings.Contains(msg, "getProduct") || !strings.Contains(msg, strconv.Itoa(status)) {
				t.Fatalf("%q does not name the call and the status", msg)
			}
		})
	}
}

func TestA401IsErrTokenInvalidWhateverTheBody(t *testing.T) {
	for _, body := range []string{``, `not json`, `{"error":"invalid_token"}`, `[]`} {
		stub := newStub(t, func(n int, r seen, w http.ResponseWriter) { answerJSON(w, 401, body) })
		c, _ := newTestClient(t, stub.srv.URL, Config{})
		_, err := collect(c.Session(NewCloudToken(testToken)).Devices(context.Background(), StoreFilter{StoreID: "s"}))
		if !errors.Is(err, ErrTokenInvalid) || errors.Is(err, ErrScope) {
			t.Fatalf("body %q: err %v, want ErrTokenInvalid", body, err)
		}
	}
}

func TestNoRequestWithoutAUsableToken(t *testing.T) {
	stub := newStub(t, func(n int, r seen, w http.ResponseWriter) { answerJSON(w, 200, `{}`) })
	c, _ := newTestClient(t, stub.srv.URL, Config{})
	for _, tok := range []string{"", "  ", "abc\r\nX-Evil: 1"} {
		_, err := c.Session(NewCloudToken(tok)).Store(context.Background(), "s")
		if !errors.Is(err, ErrNoToken) {
			t.Fatalf("token %q: err %v, want ErrNoToken", tok, err)
		}
		if strings.Contains(err.Error(), "X-Evil") {
			t.Fatalf("the unusable token is in the error: %v", err)
		}
	}
	if n := len(stub.requests()); n != 0 {
		t.Fatalf("%d requests sent without a usable token", n)
	}
}

func TestEachRequestHasItsOwnTimeout(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	stub := newStub(t, func(n int, r seen, w http.ResponseWriter) {
		if n < 2 {
			select { // never answers in time
			case <-release:
			case <-time.After(5 * time.Second):
			}
			return
		}
		answerJSON(w, 200, `{"items":[{"id":"d1"}]}`)
	})
	c, _ := newTestClient(t, stub.srv.URL, Config{Timeout: 50 * time.Millisecond, MaxAttempts: 3})
	start := time.Now()
	items, err := collect(c.Session(NewCloudToken(testToken)).StoreDocuments(context.Background(), "s", DocumentFilter{Types: []string{"SELL", "PAYBACK"}}))
	if err != nil || len(items) != 1 {
		t.Fatalf("items %v, err %v: want the third attempt's one document", items, err)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Fatalf("took %v: the timeout did not cut the requests", took)
	}
	if got := stub.requests()[2].Query.Get("type"); got != "SELL,PAYBACK" {
		t.Fatalf("type %q, want SELL,PAYBACK", got)
	}
}

func TestTheCallersCancellationIsNotRetried(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	stub := newStub(t, func(n int, r seen, w http.ResponseWriter) {
		cancel()
		answerJSON(w, 503, ``)
	})
	c, _ := newTestClient(t, stub.srv.URL, Config{})
	_, err := c.Session(NewCloudToken(testToken)).Store(ctx, "s")
	if !errors.Is(err, context.Canceled) || len(stub.requests()) != 1 {
		t.Fatalf("err %v after %d requests, want context.Canceled after 1", err, len(stub.requests()))
	}
}

func TestASessionWaitsWhenEvotorSaysNoRequestsAreLeft(t *testing.T) {
	stub := newStub(t, func(n int, r seen, w http.ResponseWriter) {
		if n == 0 {
			w.Header().Set("X-RateLimit-Remaining", "0")
			w.Header().Set("X-RateLimit-Reset", "5")
			answerJSON(w, 200, `{"items":[{"id":"a"}],"paging":{"next_cursor":"n"}}`)
			return
		}
		w.Header().Set("X-RateLimit-Remaining", "99")
		answerJSON(w, 200, `{"items":[{"id":"b"}],"paging":{}}`)
	})
	c, clock := newTestClient(t, stub.srv.URL, Config{})
	items, err := collect(c.Session(NewCloudToken(testToken)).ProductGroups(context.Background(), "s"))
	if err != nil || len(items) != 2 {
		t.Fatalf("items %v, err %v", items, err)
	}
	if slept := clock.Slept(); len(slept) != 1 || slept[0] != 5*time.Second {
		t.Fatalf("waits %v, want one of 5s before the second page", slept)
	}
}

func TestDeletesSendTheIdsCommaSeparated(t *testing.T) {
	stub := newStub(t, func(n int, r seen, w http.ResponseWriter) {
		if n == 0 {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		answerJSON(w, 202, `{"id":"task","status":"ACCEPTED"}`)
	})
	c, _ := newTestClient(t, stub.srv.URL, Config{})
	s := c.Session(NewCloudToken(testToken))
	task, err := s.DeleteProducts(context.Background(), "s", []string{"20170222-D58C-40E0-8051-B53ADFF38860", "b"})
	if err != nil || task != nil {
		t.Fatalf("204: task %v, err %v; want none, nil", task, err)
	}
	task, err = s.DeleteProductGroups(context.Background(), "s", []string{"g1"})
	if err != nil || task == nil || task.ID != "task" {
		t.Fatalf("202: task %v, err %v; want the task", task, err)
	}
	reqs := stub.requests()
	if reqs[0].Method != http.MethodDelete || reqs[0].Query.Get("id") != "20170222-D58C-40E0-8051-B53ADFF38860,b" {
		t.Fatalf("%s %s?%v", reqs[0].Method, reqs[0].Path, reqs[0].Query)
	}
}

// The token appears in no error text and no log line, whatever Evotor echoes back and however
// the call fails; and the CloudToken value itself prints, logs and marshals redacted.
func TestTheTokenNeverLeaks(t *testing.T) {
	var logs bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	echo := func(r seen) string { return r.Header.Get("Authorization") }
	stub := newStub(t, func(n int, r seen, w http.ResponseWriter) {
		w.Header().Set("Retry-After", "0")
		switch r.Path {
		case "/stores/s401":
			answerJSON(w, 401, `{"code":"`+echo(r)+`","message":"token `+echo(r)+` is revoked"}`)
		case "/stores/s400":
			answerJSON(w, 400, `{"message":"bad `+echo(r)+`","violations":[{"subject":"`+echo(r)+`","reason":"`+testToken+`"}]}`)
		case "/stores/s500":
			answerJSON(w, 500, `{"message":"`+echo(r)+`"}`)
		case "/stores/s429":
			answerJSON(w, 429, `{"message":"`+echo(r)+`"}`)
		default:
			answerJSON(w, 200, `{"items":[{"id":"`+testToken+`"`) // cut short
		}
	})
	c, _ := newTestClient(t, stub.srv.URL, Config{Logger: logger, MaxAttempts: 2})
	tok := NewCloudToken(testToken)
	s := c.Session(tok)
	ctx := context.Background()
	var errs []error
	for _, id := range []string{"s401", "s400", "s500", "s429"} {
		_, err := s.Store(ctx, id)
		errs = append(errs, err)
	}
	_, err := collect(s.Stores(ctx))
	errs = append(errs, err)

	closed, _ := newTestClient(t, "http://127.0.0.1:1", Config{Logger: logger, MaxAttempts: 2})
	_, err = closed.Session(tok).Store(ctx, "s")
	errs = append(errs, err)

	for i, err := range errs {
		if err == nil {
			t.Fatalf("call %d succeeded", i)
		}
		for _, text := range []string{err.Error(), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err)} {
			if strings.Contains(text, testToken) {
				t.Errorf("call %d: the token is in the error: %s", i, text)
			}
		}
		var apiErr *APIError
		if errors.As(err, &apiErr) {
			if b, _ := json.Marshal(apiErr); bytes.Contains(b, []byte(testToken)) {
				t.Errorf("call %d: the token is in the APIError's fields: %s", i, b)
			}
		}
	}
	logger.Info("a careless line", "token", tok, "session", fmt.Sprint(tok), "struct", struct{ T CloudToken }{tok})
	if logs.Len() == 0 {
		t.Fatal("nothing was logged: the test shows nothing")
	}
	if bytes.Contains(logs.Bytes(), []byte(testToken)) {
		t.Fatalf("the token is in the log:\n%s", logs.String())
	}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%T %v"} {
		if out := fmt.Sprintf(verb, tok); strings.Contains(out, testToken) || strings.Contains(out, fmt.Sprintf("%x", testToken)) {
			t.Errorf("fmt %s shows the token: %s", verb, out)
		}
	}
	if b, _ := json.Marshal(map[string]any{"t": tok, "s": s}); bytes.Contains(b, []byte(testToken)) {
		t.Errorf("json shows the token: %s", b)
	}
}

// Evotor's objects are read as its webhooks are: unknown fields kept, numbers as strings and
// strings as numbers, nulls, times in milliseconds; a field of a type nothing expects is named,
// and the rest of the object still read.
func TestObjectsAreReadLeniently(t *testing.T) {
	const product = `{"id":"01ba18b6-8707-5f47-3d9c-4db058054cb2","name":{"ru":"Сидр"},"type":"NORMAL","price":"123.12","cost_price":100.123,` +
		`"quantity":null,"code":42,"barcodes":null,"allow_to_sell":true,"created_at":1496840118000,` +
		`"updated_at":"2018-09-11T16:18:35.397+0000","new_field":{"nested":[1,"2"]},"parent_id":null}`
	stub := newStub(t, func(n int, r seen, w http.ResponseWriter) {
		answerJSON(w, 200, `{"items":[`+product+`,{"id":"20170222-d58c-40e0-8051-b53adff38860","name":"ok","price":1},{"id":12345}],"paging":{"next_cursor":null}}`)
	})
	c, _ := newTestClient(t, stub.srv.URL, Config{})
	items, err := collect(c.Session(NewCloudToken(testToken)).Products(context.Background(), "s", ProductFilter{}))
	if err != nil || len(items) != 3 {
		t.Fatalf("items %d, err %v", len(items), err)
	}
	p := items[0]
	if string(p.Raw) != product {
		t.Errorf("raw changed:\n got %s\nwant %s", p.Raw, product)
	}
	if p.ID != "01ba18b6-8707-5f47-3d9c-4db058054cb2" {
		t.Errorf("id %q", p.ID)
	}
	if n := items[2]; n.ID != "12345" || n.Mismatch == nil || !strings.Contains(n.Mismatch.Error(), `"id"`) {
		t.Errorf("a numeric id: ID %q (want 12345, a number's text), mismatch %v (want it named)", n.ID, n.Mismatch)
	}
	if p.Mismatch == nil || !strings.Contains(p.Mismatch.Error(), `"name"`) || strings.Contains(p.Mismatch.Error(), "Сидр") {
		t.Errorf("mismatch %v: want the field name, not its value", p.Mismatch)
	}
	if price, ok := Text(p.Value.Price); !ok || price != "123.12" {
		t.Errorf("price %q %v, want 123.12 from a string", price, ok)
	}
	if cost, ok := Number(p.Value.CostPrice); !ok || cost != 100.123 {
		t.Errorf("cost price %v %v", cost, ok)
	}
	if code, ok := Text(p.Value.Code); !ok || code != "42" {
		t.Errorf("code %q %v, want 42 from a number", code, ok)
	}
	if p.Value.Quantity != nil || p.Value.Barcodes != nil || p.Value.ParentId != nil {
		t.Errorf("nulls read as values: %+v", p.Value)
	}
	if p.Value.AllowToSell == nil || !*p.Value.AllowToSell || p.Value.Type == nil || *p.Value.Type != "NORMAL" {
		t.Errorf("fields after the mismatch were not read: %+v", p.Value)
	}
	if at, ok := Moment(p.Value.CreatedAt); !ok || !at.Equal(time.UnixMilli(1496840118000)) {
		t.Errorf("created_at %v %v", at, ok)
	}
	if at, ok := Moment(p.Value.UpdatedAt); !ok || !at.Equal(time.Date(2018, 9, 11, 16, 18, 35, 397e6, time.UTC)) {
		t.Errorf("updated_at %v %v", at, ok)
	}
	if q, ok := Text(p.Value.Quantity); ok || q != "" {
		t.Errorf("absent quantity gave %q", q)
	}
	if ok := items[1]; ok.Mismatch != nil || ok.ID != "20170222-d58c-40e0-8051-b53adff38860" || *ok.Value.Name != "ok" {
		t.Errorf("a plain item: %+v", ok)
	}
}

func TestDocumentsKeepTheirBodyRaw(t *testing.T) {
	const doc = `{"type":"SELL","id":"d1","session_number":"80","number":1234,"time_zone_offset":10800000,` +
		`"body":{"positions":[{"product_id":"p","quantity":"1.000","price":12.12}],"sum":"12.12"},"extras":{}}`
	stub := newStub(t, func(n int, r seen, w http.ResponseWriter) { answerJSON(w, 200, doc) })
	c, _ := newTestClient(t, stub.srv.URL, Config{})
	it, err := c.Session(NewCloudToken(testToken)).Document(context.Background(), "s", "d1")
	if err != nil || it.Mismatch != nil {
		t.Fatalf("%v %v", err, it.Mismatch)
	}
	if it.Value.Body == nil || !strings.Contains(string(*it.Value.Body), `"quantity":"1.000"`) {
		t.Fatalf("body %s", deref(it.Value.Body))
	}
	if n, ok := Text(it.Value.SessionNumber); !ok || n != "80" {
		t.Fatalf("session number %q", n)
	}
	if it.Value.Id != "d1" || *it.Value.Type != "SELL" {
		t.Fatalf("%+v", it.Value)
	}
}

func TestAnAnswerThatIsNotAPageEndsTheListing(t *testing.T) {
	for _, body := range []string{`<html>oops</html>`, `{"items":{"id":"a"}}`, `{"items":[1,2]}`, `"text"`, `{"items":[]} trailing`, `{"items":[{"id":"a"}`} {
		stub := newStub(t, func(n int, r seen, w http.ResponseWriter) { answerJSON(w, 200, body) })
		c, _ := newTestClient(t, stub.srv.URL, Config{})
		_, err := collect(c.Session(NewCloudToken(testToken)).Stores(context.Background()))
		if err == nil || !strings.Contains(err.Error(), "listStores") {
			t.Fatalf("body %q: err %v, want an error naming the call", body, err)
		}
	}
}

func TestRedirectsAreNotFollowed(t *testing.T) {
	var hits int
	target := newStub(t, func(n int, r seen, w http.ResponseWriter) { hits++; answerJSON(w, 200, `{"id":"x"}`) })
	stub := newStub(t, func(n int, r seen, w http.ResponseWriter) {
		http.Redirect(w, &http.Request{Method: http.MethodGet}, target.srv.URL+"/elsewhere", http.StatusFound)
	})
	c, _ := newTestClient(t, stub.srv.URL, Config{})
	_, err := c.Session(NewCloudToken(testToken)).Store(context.Background(), "s")
	var apiErr *APIError
	if !errors.As(err, &apiErr) || apiErr.Status != http.StatusFound || !errors.Is(err, ErrUnavailable) || hits != 0 {
		t.Fatalf("err %v, %d requests reached the redirect's target", err, hits)
	}
}

func TestNewRefusesABaseURLThatCannotBeRight(t *testing.T) {
	for _, u := range []string{"api.evotor.ru", "ftp://api.evotor.ru", "https://user:pw@api.evotor.ru", "https://api.evotor.ru/?token=x", "https://"} {
		if _, err := New(Config{BaseURL: u}); err == nil {
			t.Errorf("%q accepted", u)
		} else if strings.Contains(err.Error(), "pw") && strings.Contains(u, "pw") {
			t.Errorf("%q: the password is in the error %v", u, err)
		}
	}
	c, err := New(Config{})
	if err != nil || c.cfg.BaseURL != DefaultBaseURL {
		t.Fatalf("default base URL: %v %v", c, err)
	}
}

func TestObserveSeesEveryRequest(t *testing.T) {
	stub := newStub(t, func(n int, r seen, w http.ResponseWriter) {
		if n == 0 {
			answerJSON(w, 500, ``)
			return
		}
		answerJSON(w, 200, `{"id":"e"}`)
	})
	var got []string
	c, _ := newTestClient(t, stub.srv.URL, Config{Observe: func(op string, status int, _ time.Duration) {
		got = append(got, op+" "+strconv.Itoa(status))
	}})
	if _, err := c.Session(NewCloudToken(testToken)).Employee(context.Background(), "e"); err != nil {
		t.Fatal(err)
	}
	if strings.Join(got, ",") != "getEmployee 500,getEmployee 200" {
		t.Fatalf("observed %v", got)
	}
}

func deref(b *evotorrest.RawObject) string {
	if b == nil {
		return "<nil>"
	}
	return string(*b)
}

// TestAnUntrustedCertificateIsNotRetried: a server whose certificate this machine does not
// trust (its CA in no bundle) gets one request, and the error says why; asking again would get
// the same certificate.
func TestAnUntrustedCertificateIsNotRetried(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		answerJSON(w, 200, `{"id":"s"}`)
	}))
	defer srv.Close()
	c, _ := newTestClient(t, srv.URL, Config{MaxAttempts: 4})
	_, err := c.Session(NewCloudToken(testToken)).Store(context.Background(), "s")
	if err == nil || !strings.Contains(err.Error(), "certificate") || strings.Contains(err.Error(), "attempts") {
		t.Fatalf("err %v: want a certificate error after one attempt", err)
	}
	if strings.Contains(err.Error(), testToken) {
		t.Fatal("the token is in the error")
	}
}
