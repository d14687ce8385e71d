// Package gobuild builds this module's commands into real binaries, once per process, for the
// tests and the load harness that run them as processes (kill -9, replicas, the CLI).
package gobuild

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
)

// Commands is what the module builds: its two programs.
var Commands = []string{"evotor-partner", "evotor-cloud"}

var (
	once  sync.Once
	dir   string
	built error
)

// Binary is the path of cmd/<name> built into a temporary directory: every command is built
// together, the first time one is asked for. Call Cleanup when the process is done with them.
func Binary(name string) (string, error) {
	once.Do(func() {
		if dir, built = os.MkdirTemp("", "evotor-bin"); built != nil {
			return
		}
		root, err := moduleRoot()
		if err != nil {
			built = err
			return
		}
		goTool := filepath.Join(runtime.GOROOT(), "bin", "go")
		for _, c := range Commands {
			cmd := exec.Command(goTool, "build", "-o", filepath.Join(dir, c), "./cmd/"+c)
			cmd.Dir = root
			if out, err := cmd.CombinedOutput(); err != nil {
				built = fmt.Errorf("go build ./cmd/%s: %v\n%s", c, err, out)
				return
			}
		}
	})
	return filepath.Join(dir, name), built
}

// Cleanup removes the built binaries.
func Cleanup() {
	if dir != "" {
		_ = os.RemoveAll(dir)
	}
}

// moduleRoot is the directory of go.mod above the working directory (a test runs in its
// package's directory).
func moduleRoot() (string, error) {
	d, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d, nil
		}
		parent := filepath.Dir(d)
		if parent == d {
			return "", fmt.Errorf("no go.mod above %s", d)
		}
		d = parent
	}
}

// ForTest is Binary for a test that runs the command as a process: such tests are skipped
// under -short, and a build failure fails the test.
func ForTest(t testing.TB, name string) string {
	t.Helper()
	if testing.Short() {
		t.Skip("process-level test: skipped under -short")
	}
	path, err := Binary(name)
	if err != nil {
		t.Fatal(err)
	}
	return path
}
