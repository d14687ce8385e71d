package main

import (
	"crypto/sha256"
	"runtime"
	"syscall"
	"time"
)

// rusageThread is Linux's RUSAGE_THREAD: the calling thread's own usage.
const rusageThread = 1

// probeInput is what cpuProbe hashes: 4 MiB, about 10 ms of one CPU.
var probeInput = make([]byte, 4<<20)

// cpuProbe times a fixed computation (SHA-256 of probeInput) in the CPU time of its own
// thread, not by the clock: waiting for a CPU does not count, so what it takes shows how fast
// the machine's CPUs run at the moment (another guest on the host, a turbo spent), which the
// load's own CPU figures cannot tell apart from more work.
func cpuProbe() (time.Duration, error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var before, after syscall.Rusage
	if err := syscall.Getrusage(rusageThread, &before); err != nil {
		return 0, err
	}
	sha256.Sum256(probeInput)
	if err := syscall.Getrusage(rusageThread, &after); err != nil {
		return 0, err
	}
	cpu := func(r syscall.Rusage) time.Duration {
		return time.Duration(r.Utime.Nano() + r.Stime.Nano())
	}
	return cpu(after) - cpu(before), nil
}
