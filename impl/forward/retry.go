package forward

import (
	"math/rand/v2"
	"time"

	"github.com/riverqueue/river/rivertype"
)

// backoff is the retry schedule: RetryBase after the first failure, doubling, capped at
// RetryCap, plus up to 20 % jitter (only ever added, so the schedule is never shorter than the
// one maxAttempts counts).
type backoff struct{ base, cap time.Duration }

// delay is the wait after the n-th failure (n ≥ 1), without jitter.
func (b backoff) delay(n int) time.Duration {
	d := b.base
	for i := 1; i < n && d < b.cap; i++ {
		d *= 2
	}
	return min(d, b.cap)
}

// NextRetry is River's ClientRetryPolicy: job.Errors holds the failures before this one.
func (b backoff) NextRetry(job *rivertype.JobRow) time.Time {
	d := b.delay(len(job.Errors) + 1)
	d += time.Duration(rand.Float64() * 0.2 * float64(d))
	return time.Now().Add(d)
}

// maxAttempts is how many attempts make the retries last at least retryFor.
func (b backoff) maxAttempts(retryFor time.Duration) int {
	attempts, waited := 1, time.Duration(0)
	for waited < retryFor {
		waited += b.delay(attempts)
		attempts++
	}
	return attempts
}
