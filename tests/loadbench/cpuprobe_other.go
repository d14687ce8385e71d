//go:build !linux

package main

import (
	"errors"
	"time"
)

// cpuProbe: a thread's own CPU time is read on Linux only (cpuprobe_linux.go).
func cpuProbe() (time.Duration, error) { return 0, errors.New("cpu probe: Linux only") }
