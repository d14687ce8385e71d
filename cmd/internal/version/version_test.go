package version

import (
	"runtime/debug"
	"strings"
	"testing"
)

func TestFormat(t *testing.T) {
	stamped := &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v1.2.0"}, Settings: []debug.BuildSetting{
		{Key: "vcs.revision", Value: "b9b8d363188efe69b9cef62c55ffa59b969d254e"},
		{Key: "vcs.time", Value: "2026-11-28T07:43:31Z"},
		{Key: "vcs.modified", Value: "true"},
	}}
	if got, want := format(stamped), "v1.2.0 (revision b9b8d363188e, 2026-11-28T07:43:31Z, modified) go1.26.8"; got != want {
		t.Errorf("stamped build: %q, want %q", got, want)
	}
	bare := &debug.BuildInfo{GoVersion: "go1.26.8"}
	if got, want := format(bare), "(devel) (revision unknown) go1.26.8"; got != want {
		t.Errorf("unstamped build: %q, want %q", got, want)
	}
}

func TestStringNamesTheToolchain(t *testing.T) {
	if s := String(); !strings.Contains(s, "go1.") {
		t.Errorf("String() = %q", s)
	}
}
