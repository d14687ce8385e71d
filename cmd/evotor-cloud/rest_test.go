package main

import (
	"context"
	"encoding/json"
	"flag"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/evotor-partner/evotor-partner/cmd/evotor-cloud/cloud"
	"github.com/evotor-partner/evotor-partner/cmd/internal/cli"
	"github.com/evotor-partner/evotor-partner/impl/evotorapi"
)

// restLog is a stderr the tests read while the command writes it.
type restLog struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *restLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

var restURL = regexp.MustCompile(`http://[0-9.]+:[0-9]+`)

// apiURL waits for the line that says where the API is.
func (l *restLog) apiURL(t *testing.T) string {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		l.mu.Lock()
		u := restURL.FindString(l.b.String())
		l.mu.Unlock()
		if u != "" {
			return u
		}
	}
	t.Fatal("the API did not say where it serves")
	return ""
}

func restSession(t *testing.T, url, token string) *evotorapi.Session {
	t.Helper()
	c, err := evotorapi.New(evotorapi.Config{BaseURL: url})
	if err != nil {
		t.Fatal(err)
	}
	return c.Session(evotorapi.NewCloudToken(token))
}

func restCount[T any](t *testing.T, seq func(func(evotorapi.Item[T], error) bool)) int {
	t.Helper()
	n := 0
	for _, err := range seq {
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
	return n
}

func TestRestServesRequestFilesUntilInterrupted(t *testing.T) {
	prog := cli.Program{Name: "evotor-cloud", Commands: []cli.Command{{Name: "rest", Args: "DIR|FILE…", Setup: restCommand}}}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stderr restLog
	code := make(chan int, 1)
	go func() {
		code <- prog.Run(ctx, []string{"rest", "--addr", "127.0.0.1:0", "--token", "tok-1", "--page-size", "1", "../../tests/testdata/evotor/requests"},
			cli.Streams{Stdout: io.Discard, Stderr: &stderr})
	}()
	api := restSession(t, stderr.apiURL(t), "tok-1")
	bg := context.Background()
	if n := restCount(t, api.Stores(bg)); n != 2 {
		t.Fatalf("%d stores from the request files", n)
	}
	if n := restCount(t, api.Products(bg, "20170222-5a12-403a-80f6-75c361356826", evotorapi.ProductFilter{})); n == 0 {
		t.Fatal("no products from the request files")
	}
	cancel()
	if c := <-code; c != 0 {
		t.Fatalf("exit %d after Ctrl-C; stderr %s", c, stderr.b.String())
	}
}

// restPartner answers every webhook 200 (user/create with a user token) and notes the paths.
type restPartner struct {
	mu    sync.Mutex
	paths []string
}

func (p *restPartner) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var in struct{ UserID string }
	_ = json.NewDecoder(r.Body).Decode(&in)
	p.mu.Lock()
	p.paths = append(p.paths, r.URL.Path)
	p.mu.Unlock()
	if strings.HasSuffix(r.URL.Path, "/user/create") {
		_ = json.NewEncoder(w).Encode(map[string]string{"userId": in.UserID, "token": "user-token"})
	}
}

func TestRestBesideTheLifecycleServesWhatThePartnerMissed(t *testing.T) {
	fs := flag.NewFlagSet("lifecycle", flag.ContinueOnError)
	side := restFlags(fs)
	if err := fs.Parse([]string{"--rest", "127.0.0.1:0", "--rest-drop", "1", "--rest-page-size", "2"}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stderr restLog
	if err := side.start(ctx, &stderr); err != nil {
		t.Fatal(err)
	}
	partner := &restPartner{}
	hs := httptest.NewServer(partner)
	defer hs.Close()
	c, err := cloud.New(cloud.Config{Target: hs.URL, AppAuth: "Bearer app", Timeout: 5 * time.Second, Doer: side.doer()})
	if err != nil {
		t.Fatal(err)
	}
	if rep := c.Lifecycle(ctx, cloud.LifecycleOptions{UserID: "01-000000000000009"}); !rep.OK {
		t.Fatalf("lifecycle: %+v", rep.Steps)
	}
	for _, p := range partner.paths {
		if strings.Contains(p, "/inventories/") {
			t.Fatalf("--rest-drop 1 delivered %s", p)
		}
	}
	token, ok := side.srv.Tokens().Token("01-000000000000009")
	if !ok {
		t.Fatal("no cloud token recorded from user/token")
	}
	api := restSession(t, stderr.apiURL(t), token)
	bg := context.Background()
	if n := restCount(t, api.Stores(bg)); n != 1 {
		t.Fatalf("%d stores", n)
	}
	if n := restCount(t, api.Devices(bg, evotorapi.StoreFilter{})); n != 1 {
		t.Fatalf("%d devices", n)
	}
	stayed := make(chan error, 1)
	go func() { stayed <- side.stay(ctx, &stderr, nil) }()
	cancel()
	if err := <-stayed; err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stderr.b.String(), "5 webhooks dropped") {
		t.Fatalf("stderr: %s", stderr.b.String())
	}
}
