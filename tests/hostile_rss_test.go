package tests

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/evotor-partner/evotor-partner/cmd/evotor-cloud/cloud"
	"github.com/evotor-partner/evotor-partner/generated"
	"github.com/evotor-partner/evotor-partner/impl"
)

// Issue 18, memory bounded by design: a body of the largest size its operation allows, of any
// shape, grows the server's resident memory by at most hostileGrowthLimit, and so do large
// bodies sent at once (the budget of bytes in flight answers the rest 503); every answer is 200
// or an error in Evotor's envelope, never a crash. `make bench-hostile` measures the same
// against a bare server that only holds the body.
const hostileGrowthLimit = 256 << 20

// hostileBody builds a body of its shape of at most size bytes, and close to it.
type hostileBody struct {
	name  string
	build func(size int) []byte
}

func hostileBodies() []hostileBody {
	return []hostileBody{
		{"scalars", func(size int) []byte { return []byte("[" + strings.Repeat("0,", (size-1)/2-1) + "0]") }},
		{"nesting", func(size int) []byte { return []byte(deeplyNested(size / 2)) }},
		{"string", func(size int) []byte { return []byte(`["` + strings.Repeat("x", size-4) + `"]`) }},
		{"keys", func(size int) []byte {
			b := bytes.NewBufferString(`[{"k0000000":0`)
			for i := 1; b.Len()+len(`,"k0000000":0}]`) <= size; i++ {
				fmt.Fprintf(b, `,"k%07d":0`, i)
			}
			return append(b.Bytes(), "}]"...)
		}},
		{"catalogue", func(size int) []byte { return catalogue(size - 1<<10) }}, // it overshoots by less than a product
	}
}

// hostileSend is one case: copies of a body sent at once to a fresh server.
type hostileSend struct {
	op      string // operationId
	body    []byte
	chunked bool // no Content-Length: the server finds the size by reading
	copies  int
	want    int // the status every answer must have; 0: 200 or any error in the envelope
}

// TestHostileBodiesKeepMemoryBounded runs the real binary, a fresh process per case (SQLite),
// reads its resident memory from /proc while the bodies are handled (VmRSS every 5 ms, then
// VmHWM) and kills it as soon as it grows past the limit. Without the per-operation limits and
// the budget it fails: 16 MB of [0,0,…] to user/create grew it by ~3.9 GiB, and eight 16 MiB
// catalogues at once take eight times one.
func TestHostileBodiesKeepMemoryBounded(t *testing.T) {
	binaries(t) // a process-level test: skipped under -short
	var cases []hostileSend
	var names []string
	for _, op := range []string{"putDevices", "createProducts", "postReceipts", "createUser"} {
		for _, b := range hostileBodies() {
			cases = append(cases, hostileSend{op: op, body: b.build(largestBody(t, op)), copies: 1})
			names = append(names, op+"/"+b.name)
		}
	}
	scalars := hostileBodies()[0].build
	cases = append(cases,
		hostileSend{op: "createUser", body: scalars(16 << 20), copies: 1, want: 413}, // the request
		hostileSend{op: "putDevices", body: scalars(impl.DefaultBodyLimit + 1<<10), chunked: true, copies: 1, want: 413},
		hostileSend{op: "createProducts", body: catalogue(impl.DefaultBodyLimit - 1<<10), copies: 8})
	names = append(names, "createUser/16MB", "putDevices/over-the-limit-chunked", "createProducts/8-catalogues-at-once")
	for i, c := range cases {
		t.Run(names[i], func(t *testing.T) {
			t.Parallel() // each server is a process of its own: its memory is its own
			c.run(t)
		})
	}
}

// largestBody is the operation's own limit (x-body-limit), else the server's (by default).
func largestBody(t *testing.T, id string) int {
	for _, item := range ourSpec(t).Paths.Map() {
		for _, op := range item.Operations() {
			if limit, ok := op.Extensions["x-body-limit"].(float64); ok && strings.EqualFold(op.OperationID, id) { // GetSpec capitalises ids
				return int(limit)
			}
		}
	}
	return impl.DefaultBodyLimit
}

func (c hostileSend) run(t *testing.T) {
	server := startPartner(t, partnerEnv(freeAddr(t), "", t.TempDir(), ""))
	op := opByID(t, c.op)
	auth := bearer(appToken)
	if op.Credential != cloud.AppCredential {
		status, body := postRead(server.addr, "/api/v1/user/create", auth, []byte(`{"userId":"01-000000000000001"}`))
		var user struct{ Token string }
		if status != 200 || json.Unmarshal(body, &user) != nil {
			t.Fatalf("user/create: %d %s", status, body)
		}
		auth = bearer(user.Token)
	}
	time.Sleep(200 * time.Millisecond) // start-up's garbage collected: the idle RSS settled
	pid := server.cmd.Process.Pid
	idle, _ := residentMemory(pid)
	if idle == 0 {
		t.Fatal("no VmRSS in /proc/<pid>/status")
	}
	reset := os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0) == nil // VmHWM := VmRSS
	watch := watchGrowth(t, pid, idle)

	client, err := generated.NewClient("http://"+server.addr, generated.WithHTTPClient(&http.Client{Timeout: time.Minute}))
	if err != nil {
		t.Fatal(err)
	}
	answers := make([]struct {
		status int
		body   []byte
	}, c.copies)
	var wg sync.WaitGroup
	for i := range answers {
		wg.Go(func() {
			res, err := op.Do(context.Background(), client, goodStoreID, c.body, func(_ context.Context, req *http.Request) error {
				req.Header.Set("Authorization", auth)
				if c.chunked {
					req.ContentLength = -1
				}
				return nil
			})
			if err != nil {
				return // no answer: status 0
			}
			defer res.Body.Close()
			var buf bytes.Buffer
			_, _ = buf.ReadFrom(res.Body)
			answers[i].status, answers[i].body = res.StatusCode, buf.Bytes()
		})
	}
	wg.Wait()
	peak, killed := watch()
	if _, hwm := residentMemory(pid); !killed && reset {
		peak = max(peak, hwm) // a peak between two samples
	}
	growth := peak - idle
	switch {
	case killed:
		t.Fatalf("%d × %d bytes: resident memory grew past %d MiB (idle %d MiB, %d MiB more when it was killed)",
			c.copies, len(c.body), hostileGrowthLimit>>20, idle>>20, growth>>20)
	case growth > hostileGrowthLimit:
		t.Fatalf("%d × %d bytes: resident memory grew by %d MiB, more than %d MiB", c.copies, len(c.body), growth>>20, hostileGrowthLimit>>20)
	}
	t.Logf("%d × %d bytes: peak RSS growth %d MiB", c.copies, len(c.body), growth>>20)
	for _, a := range answers {
		switch {
		case a.status == 0:
			t.Errorf("no answer (the server died?)")
		case c.want != 0:
			expectError(t, a.status, a.body, c.want, c.want, "")
		case a.status != 200:
			errorCodes(t, a.body)
		}
	}
	if res, err := http.Get("http://" + server.addr + "/healthz"); err != nil || res.StatusCode != 200 {
		t.Fatalf("the server does not answer after the bodies: %v", err)
	}
}

// watchGrowth samples the process's resident memory every 5 ms and kills it (SIGKILL) once it
// grows past the limit over idle; stop returns the highest sample and whether it was killed.
func watchGrowth(t *testing.T, pid int, idle int64) (stop func() (peak int64, killed bool)) {
	done, finished := make(chan struct{}), make(chan struct{})
	var peak int64
	var killed bool
	go func() {
		defer close(finished)
		for tick := time.NewTicker(5 * time.Millisecond); ; {
			if rss, _ := residentMemory(pid); rss > 0 {
				peak = max(peak, rss)
			}
			if peak-idle > hostileGrowthLimit && !killed {
				killed = syscall.Kill(pid, syscall.SIGKILL) == nil
			}
			select {
			case <-done:
				tick.Stop()
				return
			case <-tick.C:
			}
		}
	}()
	return func() (int64, bool) { close(done); <-finished; return peak, killed }
}

// residentMemory is the process's VmRSS and VmHWM (its peak since start or the last reset) in
// bytes; zero once it is gone.
func residentMemory(pid int) (rss, peak int64) {
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0
	}
	for _, line := range strings.Split(string(status), "\n") {
		var kib int64
		if _, err := fmt.Sscanf(line, "VmRSS: %d kB", &kib); err == nil {
			rss = kib << 10
		} else if _, err := fmt.Sscanf(line, "VmHWM: %d kB", &kib); err == nil {
			peak = kib << 10
		}
	}
	return rss, peak
}
