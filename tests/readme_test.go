package tests

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestReadmeExamplesRunAsWritten: every `sh` block of README.md, in order, runs against a server
// started as the README says (`EVOTOR_PARTNER_ADMIN_TOKEN=… make run`), from a copy of the
// checkout's layout, and every HTTP call in them must succeed. Only the addresses change (a
// free port instead of :8080 and :9090), so the README cannot rot.
func TestReadmeExamplesRunAsWritten(t *testing.T) {
	t.Parallel()
	blocks := readmeShellBlocks(t, filepath.Join("..", "README.md"))
	if len(blocks) < 4 {
		t.Fatalf("only %d sh blocks in README.md", len(blocks))
	}
	work := checkoutLayout(t)
	server, _ := binaries(t)
	addr, metrics := freeAddr(t), freeAddr(t)
	p := startProc(t, server, []string{"EVOTOR_PARTNER_DEV_APP_TOKEN=1", "EVOTOR_PARTNER_ADMIN_TOKEN=local-admin-token-123456",
		"EVOTOR_PARTNER_ADDR=" + addr, "EVOTOR_PARTNER_METRICS_ADDR=" + metrics,
		"EVOTOR_PARTNER_DATA_DIR=" + filepath.Join(work, "data")}, "serve")
	p.addr = addr
	p.waitHealthy(t)

	// curl fails the script on any HTTP error the README's own `curl -s` would print and ignore.
	script := "set -euo pipefail\ncurl() { command curl --fail-with-body --show-error \"$@\"; }\n" +
		strings.NewReplacer("localhost:8080", addr, "localhost:9090", metrics, "127.0.0.1:8081", freeAddr(t)).Replace(strings.Join(blocks, "\n"))
	cmd := exec.Command("bash", "-c", script)
	cmd.Dir = work
	cmd.Env = append(os.Environ(), "DATABASE_URL=", "EVOTOR_PARTNER_DATA_DIR=")
	// Its own process group, killed whole at the end: a step that fails leaves no simulator
	// behind holding its port.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	defer func() {
		if cmd.Process != nil {
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		}
	}()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the README's examples failed: %v\n%s\nserver log:\n%s", err, out, p.out.String())
	}
}

// readmeShellBlocks returns the bodies of the ```sh blocks, in order.
func readmeShellBlocks(t *testing.T, path string) []string {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var blocks []string
	var current *strings.Builder
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case current == nil && strings.TrimSpace(line) == "```sh":
			current = &strings.Builder{}
		case current != nil && strings.TrimSpace(line) == "```":
			blocks = append(blocks, current.String())
			current = nil
		case current != nil:
			current.WriteString(line + "\n")
		}
	}
	return blocks
}

// checkoutLayout is a temporary directory that looks like the checkout (the module's folders,
// linked) with an empty data directory of its own, so the examples' relative paths work and the
// developer's ./data is left alone.
func checkoutLayout(t *testing.T) string {
	dir := t.TempDir()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"go.mod", "go.sum", "cmd", "impl", "security", "generated", "openapi", "tests"} {
		if err := os.Symlink(filepath.Join(root, name), filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}
