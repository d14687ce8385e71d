package tests

import (
	"context"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/getkin/kin-openapi/openapi3"

	"github.com/evotor-partner/evotor-partner/generated"
	"github.com/evotor-partner/evotor-partner/impl"
)

// TestDocsInABrowser reads /docs the way a partner does, in Debian's headless Chromium: the
// page loads, a table-of-contents link takes the reader to its operation, the example request
// is there on screen, and so is the operation's error table. Screenshots land in the test's temp dir and in ARTIFACTS_DIR.
func TestDocsInABrowser(t *testing.T) {
	t.Parallel()
	browser := chromiumOrSkip(t)
	server := httptest.NewServer(newEnv(t, backends()[0]).api)
	defer server.Close()

	dir := t.TempDir()
	allocator, cancel := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(browser),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.UserDataDir(filepath.Join(dir, "profile")),
		chromedp.WindowSize(1440, 1000),
	)
	defer cancel()
	ctx, cancel := chromedp.NewContext(allocator)
	defer cancel()
	ctx, cancel = context.WithTimeout(ctx, 60*time.Second)
	defer cancel()

	const target = "PostReceipts" // the embedded spec's (Go-cased) operationId
	request := chromedp.CSS("#" + target + " figure.request pre")
	if err := chromedp.Do(ctx, chromedp.Navigate(server.URL+"/docs"), chromedp.WaitVisible(chromedp.CSS("nav.toc"))); err != nil {
		t.Fatalf("loading /docs in chromium: %v", err)
	}
	top := run(t, ctx, chromedp.CaptureScreenshot())
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`nav.toc a[href="#`+target+`"]`)), chromedp.WaitVisible(request)); err != nil {
		t.Fatalf("following the table of contents: %v", err)
	}
	hash := run(t, ctx, chromedp.Evaluate[string](`location.hash`))
	sectionTop := run(t, ctx, chromedp.Evaluate[float64](`document.getElementById("`+target+`").getBoundingClientRect().top`))
	shown := run(t, ctx, chromedp.Text(request))
	clicked := run(t, ctx, chromedp.CaptureScreenshot())
	saveScreenshot(t, dir, "docs-top.png", top)
	saveScreenshot(t, dir, "docs-after-toc-click.png", clicked)

	if hash != "#"+target {
		t.Errorf("after the click the URL's fragment is %q, want #%s", hash, target)
	}
	if sectionTop < -1 || sectionTop > 100 {
		t.Errorf("the %s section starts %.0f px from the top of the window: not scrolled into view", target, sectionTop)
	}
	for _, want := range []string{"POST /api/v2/receipts HTTP/1.1", "Authorization: Bearer <userToken>", `"type": "SELL"`} {
		if !strings.Contains(shown, want) {
			t.Errorf("the example request shown lacks %q:\n%s", want, shown)
		}
	}

	// The operation's error table (its x-evotor-codes) is on screen, one row per entry. Until
	// the spec declares them, the page is rendered from the spec with entries put in.
	docs, entries := server.URL+"/docs", declaredCodes(t, ourSpec(t), target)
	if entries == 0 {
		var injected string
		injected, entries = docsWithCodes(t, target)
		docs = injected + "/docs"
		t.Logf("%s declares no x-evotor-codes yet: its error table is checked on a page rendered with %d entries put in", target, entries)
	}
	table := "#" + target + " table.errors"
	if err := chromedp.Do(ctx, chromedp.Navigate(docs+"#"+target), chromedp.WaitVisible(chromedp.CSS("nav.toc"))); err != nil {
		t.Fatalf("loading %s in chromium: %v", docs, err)
	}
	if !run(t, ctx, chromedp.Evaluate[bool](`document.querySelector("`+table+`") !== null`)) {
		t.Fatalf("%s has no error table on %s", target, docs)
	}
	if err := chromedp.Do(ctx, chromedp.ScrollIntoView(chromedp.CSS(table)), chromedp.WaitVisible(chromedp.CSS(table+" tr.error"))); err != nil {
		t.Fatalf("the error table of %s: %v", target, err)
	}
	rows := run(t, ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll("`+table+` tr.error")].filter(r => r.getBoundingClientRect().height > 0).map(r => r.innerText)`))
	box := run(t, ctx, chromedp.Evaluate[[]float64](`(b => [b.top, b.bottom, b.width])(document.querySelector("`+table+`").getBoundingClientRect())`))
	saveScreenshot(t, dir, "docs-error-table.png", run(t, ctx, chromedp.CaptureScreenshot()))
	if len(rows) != entries {
		t.Errorf("%d visible rows in %s's error table, want %d: %q", len(rows), target, entries, rows)
	}
	if box[2] < 200 || box[1] <= 0 || box[0] >= 1000 {
		t.Errorf("the error table is not on screen: top %.0f, bottom %.0f, width %.0f", box[0], box[1], box[2])
	}
	for _, r := range rows {
		if cells := strings.Split(r, "\t"); len(cells) != 3 || strings.TrimSpace(cells[2]) == "" {
			t.Errorf("an error row does not read status, code, when: %q", r)
		}
	}
}

// declaredCodes is how many operation-level x-evotor-codes entries the operation declares.
func declaredCodes(t *testing.T, spec *openapi3.T, id string) int {
	t.Helper()
	for _, item := range spec.Paths.Map() {
		for _, op := range item.Operations() {
			if op.OperationID == id {
				entries, _ := op.Extensions["x-evotor-codes"].([]any)
				return len(entries)
			}
		}
	}
	t.Fatalf("no operation %s in the spec", id)
	return 0
}

// docsWithCodes serves /docs rendered from the spec with x-evotor-codes put in the operation:
// one entry per code of its error responses (the response-level lists, else the status).
func docsWithCodes(t *testing.T, id string) (url string, entries int) {
	t.Helper()
	spec, err := generated.GetSpec() // a copy of its own: it puts codes in
	if err != nil {
		t.Fatal(err)
	}
	for _, item := range spec.Paths.Map() {
		for _, op := range item.Operations() {
			if op.OperationID != id {
				continue
			}
			var list []any
			for _, status := range slices.Sorted(maps.Keys(op.Responses.Map())) {
				if status[0] != '4' && status[0] != '5' {
					continue
				}
				codes, _ := op.Responses.Value(status).Value.Extensions["x-evotor-codes"].([]any)
				if len(codes) == 0 {
					codes = []any{status}
				}
				for _, c := range codes {
					list = append(list, map[string]any{"code": c, "status": status, "when": "An answer of **" + status + "**, put in by the test."})
				}
			}
			if op.Extensions == nil {
				op.Extensions = map[string]any{}
			}
			op.Extensions["x-evotor-codes"] = list
			entries = len(list)
		}
	}
	srv, err := impl.NewServer(nil, nil, slog.New(slog.DiscardHandler), impl.Policy{}, nil, spec)
	if err != nil {
		t.Fatal(err)
	}
	answer, err := srv.GetDocs(context.Background(), generated.GetDocsRequestObject{})
	if err != nil {
		t.Fatal(err)
	}
	page, err := io.ReadAll(answer.(generated.GetDocs200TexthtmlResponse).Body)
	if err != nil {
		t.Fatal(err)
	}
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write(page)
	}))
	t.Cleanup(server.Close)
	return server.URL, entries
}

// run runs one browser action and returns its value.
func run[T any](t *testing.T, ctx context.Context, a chromedp.Action[T]) T {
	t.Helper()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatalf("chromium: %v", err)
	}
	return v
}

// chromiumOrSkip finds Debian's chromium. CI installs it (.ci/run), so there its absence
// fails the test; elsewhere the test is skipped with a note.
func chromiumOrSkip(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("browser test: skipped under -short")
	}
	if path, err := exec.LookPath("chromium"); err == nil {
		return path
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("chromium is not installed; .ci/run installs it (apt-get install -y chromium)")
	}
	t.Skip("chromium is not installed (apt-get install -y chromium): the browser test of /docs is skipped")
	return ""
}

func saveScreenshot(t *testing.T, dir, name string, png []byte) {
	t.Helper()
	dirs := []string{dir}
	if artifacts := os.Getenv("ARTIFACTS_DIR"); artifacts != "" {
		dirs = append(dirs, artifacts)
	}
	for _, d := range dirs {
		path := filepath.Join(d, name)
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot: %s", path)
	}
}
