package main

import (
	"crypto/sha256"
	"runtime"
	"time"

	"golang.org/x/sys/unix"
)

// probeInput is what cpuProbe hashes: 4 MiB, a few milliseconds of one CPU.
var probeInput = make([]byte, 4<<20)

// cpuProbe times a fixed computation (SHA-256 of probeInput) in the CPU time of its own
// thread, not by the clock: waiting for a CPU does not count, so what it takes shows how fast
// the machine's CPUs run at the moment (another guest on the host, a turbo spent), which the
// load's own CPU figures cannot tell apart from more work. CLOCK_THREAD_CPUTIME_ID is the
// scheduler's own count, to the nanosecond; getrusage(RUSAGE_THREAD) splits it by ticks and
// holds a figure back to keep it monotonic, so two readings a few milliseconds apart can
// differ by nothing.
func cpuProbe() (time.Duration, error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var before, after unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &before); err != nil {
		return 0, err
	}
	sha256.Sum256(probeInput)
	if err := unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &after); err != nil {
		return 0, err
	}
	return time.Duration(after.Nano() - before.Nano()), nil
}
