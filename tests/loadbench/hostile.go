package main

// The hostile-body measurement (`loadbench -hostile`, `make bench-hostile`): for each shape of
// body a caller can make the server parse — a long array of scalars, deep nesting, one huge
// string, an object of very many keys, a valid-looking catalogue — at the largest size its
// operation allows and just over it, our real server's peak resident memory growth against a
// bare echo server that only reads the same body into memory (the unavoidable cost of holding
// it), both fresh child processes for every row, in the same run. Also several large bodies
// at once (the bytes-in-flight budget). Goal (issue 18): growth ≤ 256 MiB for every row.

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"maps"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/evotor-partner/evotor-partner/generated"
	"github.com/evotor-partner/evotor-partner/impl"
	"github.com/evotor-partner/evotor-partner/tests/freeport"
)

// goalHostileRSSGrowth: no body, of whatever shape, may grow the server's resident memory more.
const goalHostileRSSGrowth = 256 << 20

// hostileShape builds a body of its shape of at most size bytes (and close to it).
type hostileShape struct {
	Name  string
	Build func(size int) []byte
}

// hostileShapes are the shapes of issue 18: each the most of one kind of JSON value per byte.
func hostileShapes() []hostileShape {
	return []hostileShape{
		{"array of scalars [0,0,…]", func(size int) []byte {
			return []byte("[" + strings.Repeat("0,", max((size-1)/2-1, 0)) + "0]") // 2n+1 bytes for n zeros
		}},
		{"deep nesting [[[…]]]", func(size int) []byte {
			return []byte(strings.Repeat("[", size/2) + strings.Repeat("]", size/2))
		}},
		{`one huge string ["xx…"]`, func(size int) []byte {
			return []byte(`["` + strings.Repeat("x", size-4) + `"]`)
		}},
		{`object of many keys [{"k…":0,…}]`, func(size int) []byte {
			var b bytes.Buffer
			b.WriteString("[{")
			for i := 0; b.Len()+len(`"k0000000":0,}]`) <= size; i++ {
				if i > 0 {
					b.WriteByte(',')
				}
				fmt.Fprintf(&b, `"k%07d":0`, i)
			}
			b.WriteString("}]")
			return b.Bytes()
		}},
		{"catalogue of small objects", func(size int) []byte {
			return catalogue(size - 1<<10) // catalogue overshoots by less than one product
		}},
	}
}

// hostileOperation is an operation the bodies are sent to.
type hostileOperation struct {
	Method, Path string // Path with its parameters filled in
	specPath     string
	App          bool // the app token (account and event operations); else a user token
	Limit        int  // the largest body it takes: its x-body-limit, else the server's limit
	PerOperation bool // Limit is the operation's own (x-body-limit)
}

func (o hostileOperation) String() string { return o.Method + " " + o.specPath }

// hostileStore is the store of the notifications that name one.
const hostileStore = "20170928-3176-40EB-80E2-A11F032E282A"

// hostileOperations: two notifications (one bound whole, one read item by item), the receipts
// (read from the validated tree), and user/create (an account operation, the first
// finding), each with its largest body from the spec.
func hostileOperations() ([]hostileOperation, error) {
	spec, err := generated.GetSpec()
	if err != nil {
		return nil, err
	}
	ops := []hostileOperation{
		{Method: http.MethodPut, specPath: "/api/v1/inventories/devices"},
		{Method: http.MethodPost, specPath: "/api/v1/inventories/stores/{storeUuid}/products"},
		{Method: http.MethodPost, specPath: "/api/v2/receipts"},
		{Method: http.MethodPost, specPath: "/api/v1/user/create", App: true},
	}
	for i := range ops {
		o := &ops[i]
		item := spec.Paths.Value(o.specPath)
		if item == nil || item.GetOperation(o.Method) == nil {
			return nil, fmt.Errorf("the spec has no %s", o)
		}
		o.Path = strings.ReplaceAll(o.specPath, "{storeUuid}", hostileStore)
		o.Limit = impl.DefaultBodyLimit
		if limit, ok := item.GetOperation(o.Method).Extensions["x-body-limit"].(float64); ok {
			o.Limit, o.PerOperation = int(limit), true
		}
	}
	return ops, nil
}

// hostileCase is one row: a body sent Copies times at once to an operation.
type hostileCase struct {
	Op      hostileOperation
	Shape   string
	Body    []byte
	Chunked bool // sent without a Content-Length: the server learns its size only by reading
	Copies  int
	Over    bool // over the operation's limit: 413 expected
}

func (c hostileCase) size() string {
	s := mebibytes(int64(len(c.Body)))
	if len(c.Body) < 1<<20 {
		s = fmt.Sprintf("%.0f KiB", float64(len(c.Body))/(1<<10))
	}
	if c.Copies > 1 {
		s = fmt.Sprintf("%d × %s at once", c.Copies, s)
	}
	if c.Chunked {
		s += ", chunked"
	}
	return s
}

// hostileCases: every shape at every operation's limit; each operation's array of scalars just
// over its limit, chunked (the size is found out by reading); the issue's own request (16 MB
// of [0,0,…] to user/create, its length declared); then copies at once of a large body.
func hostileCases(ops []hostileOperation, copies int) []hostileCase {
	var cs []hostileCase
	shapes := hostileShapes()
	for _, op := range ops {
		for _, s := range shapes {
			cs = append(cs, hostileCase{Op: op, Shape: s.Name, Body: s.Build(op.Limit), Copies: 1})
		}
	}
	scalars := shapes[0]
	for _, op := range ops {
		cs = append(cs, hostileCase{Op: op, Shape: scalars.Name + ", over the limit", Body: scalars.Build(op.Limit + 1<<10),
			Chunked: true, Copies: 1, Over: true})
		if op.PerOperation {
			cs = append(cs, hostileCase{Op: op, Shape: scalars.Name + ", over the limit", Body: scalars.Build(impl.DefaultBodyLimit),
				Copies: 1, Over: true})
		}
	}
	for _, op := range ops {
		if op.specPath == "/api/v1/inventories/stores/{storeUuid}/products" {
			cs = append(cs, hostileCase{Op: op, Shape: shapes[4].Name, Body: shapes[4].Build(op.Limit), Copies: copies})
		}
		if op.specPath == "/api/v1/inventories/devices" {
			cs = append(cs, hostileCase{Op: op, Shape: scalars.Name, Body: scalars.Build(op.Limit), Copies: copies})
		}
	}
	return cs
}

// hostileMeasure is one server's side of a row.
type hostileMeasure struct {
	Statuses map[string]int // "200", "413 2003"…, "no answer"
	Growth   int64          // peak resident memory while the bodies were handled, minus idle
	Elapsed  time.Duration
	Bad      []string // answers that are neither 200 nor an error in Evotor's envelope
}

// hostileRow is a measured row.
type hostileRow struct {
	hostileCase
	Ours, Bare hostileMeasure
}

func (r hostileRow) met() bool {
	ok := r.Ours.Growth <= goalHostileRSSGrowth && len(r.Ours.Bad) == 0
	if r.Over {
		ok = ok && r.Ours.Statuses["413"] == r.Copies
	}
	return ok
}

// benchHostile measures every case, each against a fresh server of ours and a fresh bare one.
func benchHostile(ctx context.Context, bins binaries, dir string, copies int) ([]hostileRow, error) {
	ops, err := hostileOperations()
	if err != nil {
		return nil, err
	}
	cases := hostileCases(ops, copies)
	rows := make([]hostileRow, 0, len(cases))
	for i, c := range cases {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		progress(fmt.Sprintf("hostile %d/%d: %s, %s, %s", i+1, len(cases), c.Op, c.Shape, c.size()))
		row := hostileRow{hostileCase: c}
		if row.Bare, err = measureBare(ctx, bins, dir, c, i); err != nil {
			return nil, err
		}
		if row.Ours, err = measureOurs(ctx, bins, dir, c, i); err != nil {
			return nil, err
		}
		rows = append(rows, row)
	}
	return rows, nil
}

// measureOurs sends the case to a fresh server of ours (SQLite), as a registered user.
func measureOurs(ctx context.Context, bins binaries, dir string, c hostileCase, i int) (hostileMeasure, error) {
	name := fmt.Sprintf("hostile-%02d", i)
	p, err := startPartner(ctx, name, dir, bins.partner, "")
	if err != nil {
		return hostileMeasure{}, err
	}
	defer os.RemoveAll(filepath.Join(dir, name+"-data"))
	defer p.stop()
	auth := "Bearer " + p.appToken
	if !c.Op.App {
		token, err := createUser(p.URL, p.appToken, benchUserID)
		if err != nil {
			return hostileMeasure{}, err
		}
		auth = "Bearer " + token
	}
	return measureHostile(p.process, c, auth)
}

// measureBare sends the case to a fresh bare echo server.
func measureBare(ctx context.Context, bins binaries, dir string, c hostileCase, i int) (hostileMeasure, error) {
	addr, err := freeport.Loopback()
	if err != nil {
		return hostileMeasure{}, err
	}
	p, err := startProcess(ctx, fmt.Sprintf("bare-%02d", i), dir, addr, bins.self, []string{bareEchoMode, "--addr", addr}, nil)
	if err != nil {
		return hostileMeasure{}, err
	}
	defer p.stop()
	return measureHostile(p, c, "")
}

// measureHostile sends the case's copies at once and reads the process's resident memory:
// sampled every 5 ms while they are in flight, and its high-water mark (VmHWM, reset to the
// idle RSS first where /proc lets us), minus the idle RSS.
func measureHostile(p *process, c hostileCase, auth string) (hostileMeasure, error) {
	time.Sleep(200 * time.Millisecond) // start-up's garbage collected, the idle RSS settled
	idle, idlePeak, err := p.memory()
	if err != nil {
		return hostileMeasure{}, err
	}
	reset := os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", p.cmd.Process.Pid), []byte("5"), 0) == nil
	m := hostileMeasure{Statuses: map[string]int{}}
	var mu sync.Mutex
	var wg sync.WaitGroup
	stopSampling, peak := samplePeakRSS(&partner{process: p}, 5*time.Millisecond)
	start := time.Now()
	for range c.Copies {
		wg.Go(func() {
			status, answer, err := sendHostile(p.URL+c.Op.Path, c.Op.Method, auth, c.Body, c.Chunked)
			mu.Lock()
			defer mu.Unlock()
			key, bad := describeAnswer(status, answer, err)
			m.Statuses[key]++
			if bad {
				m.Bad = append(m.Bad, fmt.Sprintf("%s %.200s", key, answer))
			}
		})
	}
	wg.Wait()
	m.Elapsed = time.Since(start)
	stopSampling()
	m.Growth = *peak
	if _, hwm, err := p.memory(); err == nil && (reset || hwm > idlePeak) {
		m.Growth = max(m.Growth, hwm) // a peak between two samples
	}
	m.Growth -= idle
	return m, nil
}

// sendHostile sends one body; a server that answers before it has read the whole body (413)
// may close the connection under the client, which then still has the answer.
func sendHostile(url, method, auth string, body []byte, chunked bool) (int, []byte, error) {
	var r io.Reader = bytes.NewReader(body)
	if chunked {
		r = io.MultiReader(r) // no length known: sent chunked
	}
	req, err := http.NewRequest(method, url, r)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := (&http.Client{Timeout: 2 * time.Minute}).Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, answer, nil
}

// describeAnswer names an answer by its status and Evotor code ("400 2003"); bad: neither 200
// nor an error in Evotor's envelope (a crash, a dropped connection, a plain-text error).
func describeAnswer(status int, answer []byte, err error) (key string, bad bool) {
	if err != nil {
		return "no answer", true
	}
	if status == http.StatusOK {
		return "200", false
	}
	var envelope struct {
		Errors []struct {
			Code int `json:"code"`
		} `json:"errors"`
	}
	if json.Unmarshal(answer, &envelope) != nil || len(envelope.Errors) == 0 {
		return strconv.Itoa(status) + " not in the envelope", true
	}
	if code := envelope.Errors[0].Code; code != status {
		return fmt.Sprintf("%d %d", status, code), false
	}
	return strconv.Itoa(status), false
}

// bareEchoMode is this program's bare echo server (`loadbench bare-echo --addr …`): it reads
// each body whole into memory (into a buffer of its declared length, else growing) and
// answers 200 — the cost any server pays to hold the body, and nothing else.
const bareEchoMode = "bare-echo"

func runBareEcho(args []string) error {
	fs := flag.NewFlagSet(bareEchoMode, flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:0", "listen address")
	if err := fs.Parse(args); err != nil {
		return err
	}
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.GET("/healthz", func(c echo.Context) error { return c.NoContent(http.StatusOK) })
	e.Any("/*", func(c echo.Context) error {
		r := c.Request()
		var err error
		if r.ContentLength >= 0 {
			_, err = io.ReadFull(r.Body, make([]byte, r.ContentLength))
		} else {
			_, err = io.ReadAll(r.Body)
		}
		if err != nil {
			return err
		}
		return c.NoContent(http.StatusOK)
	})
	srv := &http.Server{Addr: *addr, Handler: e, ReadHeaderTimeout: 5 * time.Second}
	return srv.ListenAndServe()
}

// runHostile measures the hostile bodies (in dir, with the built binaries), prints the report,
// and tells whether every row met the goal.
func runHostile(ctx context.Context, bins binaries, dir string, o options) (bool, error) {
	loadAtStart := loadAverage()
	start := time.Now()
	rows, err := benchHostile(ctx, bins, dir, o.hostileCopies)
	if err != nil {
		return false, err
	}
	setting := fmt.Sprintf("%s, %s/%s, %d CPUs, %s; our server on SQLite with its default limits (body %s, large bodies at once %s); "+
		"every row a fresh process of each server\nLoad average %s at the start, %s at the end; %s in all",
		start.UTC().Format("2006-01-02 15:04 MST"), runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.Version(),
		mebibytes(impl.DefaultBodyLimit), mebibytes(impl.DefaultBodyBudget), loadAtStart, loadAverage(), time.Since(start).Round(time.Second))
	return printHostileReport(os.Stdout, setting, rows), nil
}

// printHostileReport writes the rows as a Markdown table with PASS or FAIL each, and tells
// whether all passed.
func printHostileReport(w io.Writer, setting string, rows []hostileRow) bool {
	fmt.Fprintf(w, "%s\n\n", setting)
	table := [][]string{{"operation", "body", "size", "our answers", "answered in", "our peak RSS growth", "bare echo's", "ours − bare", "≤ 256 MiB"}}
	met := 0
	for _, r := range rows {
		if r.met() {
			met++
		}
		table = append(table, []string{r.Op.String(), r.Shape, r.size(), answers(r.Ours), seconds(r.Ours.Elapsed),
			mebibytes(r.Ours.Growth), mebibytes(r.Bare.Growth), signedMebibytes(r.Ours.Growth - r.Bare.Growth), verdict(r.met())})
	}
	writeTable(w, table)
	fmt.Fprintf(w, "\n%d of %d rows within %s of peak RSS growth, every answer 200 or an error in Evotor's envelope.\n",
		met, len(rows), mebibytes(goalHostileRSSGrowth))
	for _, r := range rows {
		for _, bad := range r.Ours.Bad {
			fmt.Fprintf(w, "- %s, %s: %s\n", r.Op, r.Shape, bad)
		}
	}
	return met == len(rows)
}

// answers lists the answers by how many of each ("200", "2 × 503").
func answers(m hostileMeasure) string {
	var parts []string
	for _, key := range slices.Sorted(maps.Keys(m.Statuses)) {
		if n := m.Statuses[key]; n > 1 {
			parts = append(parts, fmt.Sprintf("%d × %s", n, key))
		} else {
			parts = append(parts, key)
		}
	}
	return strings.Join(parts, ", ")
}

// signedMebibytes is a difference in MiB with its sign ("+3 MiB", "-16 MiB", "0 MiB").
func signedMebibytes(n int64) string {
	m := math.Round(float64(n) / (1 << 20))
	if m == 0 {
		return "0 MiB"
	}
	return fmt.Sprintf("%+.0f MiB", m)
}
