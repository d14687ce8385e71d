// Package version tells which build a binary is: its module version and the VCS revision it
// was built from, as the Go toolchain stamped them (runtime/debug.ReadBuildInfo).
package version

import (
	"runtime/debug"
	"strings"
)

// String is the binary's version, e.g.
// "v0.0.0-20261128074331-b9b8d363188e (revision b9b8d363188e, 2026-11-28T07:43:31Z, modified) go1.26.8".
// A build without VCS stamping (go run, -buildvcs=false, a git worktree) says "revision unknown".
func String() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown (built without module support)"
	}
	return format(info)
}

func format(info *debug.BuildInfo) string {
	settings := map[string]string{}
	for _, s := range info.Settings {
		settings[s.Key] = s.Value
	}
	revision := []string{"revision unknown"}
	if rev := settings["vcs.revision"]; rev != "" {
		revision = []string{"revision " + rev[:min(len(rev), 12)]}
		if t := settings["vcs.time"]; t != "" {
			revision = append(revision, t)
		}
		if settings["vcs.modified"] == "true" {
			revision = append(revision, "modified")
		}
	}
	module := info.Main.Version
	if module == "" {
		module = "(devel)"
	}
	return module + " (" + strings.Join(revision, ", ") + ") " + info.GoVersion
}
