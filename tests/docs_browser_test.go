package tests

import (
	"context"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestDocsInABrowser reads /docs the way a partner does, in Debian's headless Chromium: the
// page loads, a table-of-contents link takes the reader to its operation, and the example
// request is there on screen. Screenshots land in the test's temp dir and in ARTIFACTS_DIR.
func TestDocsInABrowser(t *testing.T) {
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
