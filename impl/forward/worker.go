package forward

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/evotor-partner/evotor-partner/impl/storage"
)

// sendArgs is one message's job.
type sendArgs struct {
	storage.MessageKey
}

func (sendArgs) Kind() string { return "forward_message" }

// blockedSnooze is how long a job waits behind an earlier pending message before looking
// again. It is only a safety net: finishing the earlier message hands this one a fresh job.
const blockedSnooze = time.Hour

// sender sends one message per job.
type sender struct {
	river.WorkerDefaults[sendArgs]
	svc *Service
}

func (w *sender) Timeout(*river.Job[sendArgs]) time.Duration { return w.svc.cfg.jobTimeout() }

func (w *sender) Work(ctx context.Context, job *river.Job[sendArgs]) error {
	s := w.svc
	m, found, err := s.store.ForwardMessageByKey(ctx, job.Args.MessageKey)
	if err != nil {
		return err
	}
	if !found || m.State != storage.ForwardPending || m.JobID == nil || *m.JobID != job.ID {
		return nil // delivered, dead, or handed to a newer job
	}
	head, _, err := s.store.FirstPending(ctx, m.Destination, m.EvotorUserID)
	if err != nil {
		return err
	}
	if head.ID != m.ID {
		return s.waitBehind(ctx, head)
	}
	a := storage.Attempt{At: time.Now().UTC()}
	var wait time.Duration
	if dest, ok := s.destinations[m.Destination]; ok {
		a.Status, a.Err, wait = s.send(ctx, dest, m)
	} else {
		a.Err = "destination no longer configured"
	}
	gone := a.Status == http.StatusGone // the receiver says it will never take it: dead at once
	a.Final = a.Err != "" && (job.Attempt >= job.MaxAttempts || gone)
	// The outcome is written even when the job's time ran out meanwhile.
	owned, err := s.store.FinishAttempt(context.WithoutCancel(ctx), m.ID, job.ID, a, s.insertJobs)
	if err != nil {
		return err
	}
	if a.Err != "" && owned {
		if a.Final {
			s.logger.Warn("forwarding: message dead", "destination", m.Destination, "message", MessageID(m.InboxID), "attempts", job.Attempt, "error", a.Err)
		}
		if gone {
			return river.JobCancel(errors.New(a.Err)) // no retry
		}
		if wait > 0 {
			s.retryAfter.Store(job.ID, wait)
		}
		return errors.New(a.Err) // retried by River with our backoff; discarded after the last attempt
	}
	return nil
}

// NextRetry honours a destination's Retry-After (429, 503): the next attempt waits what it
// asked, when that is longer than the backoff, never longer than the backoff's cap. Otherwise
// (zero) River's policy, our backoff, decides.
func (w *sender) NextRetry(job *river.Job[sendArgs]) time.Time {
	s := w.svc
	wait, ok := s.retryAfter.LoadAndDelete(job.ID)
	if !ok {
		return time.Time{}
	}
	return latest(s.policy.NextRetry(job.JobRow), time.Now().Add(min(wait.(time.Duration), s.policy.cap)))
}

func latest(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// noRedirects: a redirect is not followed (it would turn the POST into a GET, or send the
// signed body to another host); the 3xx is a failed attempt, with its Location in the error.
func noRedirects(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// retryAfter is how long a 429 or 503 asks to wait (Retry-After in seconds or as an HTTP date);
// 0 when it does not say.
func retryAfter(resp *http.Response) time.Duration {
	if resp.StatusCode != http.StatusTooManyRequests && resp.StatusCode != http.StatusServiceUnavailable {
		return 0
	}
	v := resp.Header.Get("Retry-After")
	if secs, err := strconv.Atoi(v); err == nil && secs > 0 {
		return time.Duration(secs) * time.Second
	}
	if at, err := http.ParseTime(v); err == nil {
		return max(time.Until(at), 0)
	}
	return 0
}

// waitBehind snoozes behind the earlier pending message head. Should head have lost its job
// (finished without handing over, e.g. a database failure on its last attempt), it gets a
// fresh one so the user's queue cannot stall.
func (s *Service) waitBehind(ctx context.Context, head storage.ForwardMessage) error {
	alive := false
	if head.JobID != nil {
		j, err := s.client.JobGet(ctx, *head.JobID)
		switch {
		case errors.Is(err, rivertype.ErrNotFound):
		case err != nil:
			return err
		default:
			alive = j.FinalizedAt == nil
		}
	}
	if !alive {
		if err := s.store.Revive(ctx, head, s.insertJobs); err != nil {
			return err
		}
	}
	return river.JobSnooze(blockedSnooze)
}

// send POSTs the message, signed; a 2xx is success. It returns the status (0: no answer), why
// it failed ("" on success) and how long the destination asked to wait before the next try.
func (s *Service) send(ctx context.Context, dest Destination, m storage.Outgoing) (int, string, time.Duration) {
	body, err := encode(m)
	if err != nil {
		return 0, shorten(err.Error()), 0
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, dest.URL, bytes.NewReader(body))
	if err != nil {
		return 0, shorten(err.Error()), 0
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "evotor-partner-forwarder")
	dest.Secret.SetHeaders(req.Header, MessageID(m.InboxID), time.Now(), body)
	resp, err := s.http.Do(req)
	if err != nil {
		return 0, shorten(err.Error()), 0
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	switch {
	case resp.StatusCode/100 == 3:
		return resp.StatusCode, shorten(fmt.Sprintf("HTTP %d: redirect to %q not followed", resp.StatusCode, resp.Header.Get("Location"))), 0
	case resp.StatusCode == http.StatusGone:
		return resp.StatusCode, "HTTP 410: the destination is gone; the message is dead", 0
	case resp.StatusCode/100 != 2:
		return resp.StatusCode, fmt.Sprintf("HTTP %d", resp.StatusCode), retryAfter(resp)
	}
	return resp.StatusCode, "", 0
}
