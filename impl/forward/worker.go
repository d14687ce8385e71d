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
// again. It is only a safety net: the earlier message's job takes this one over, or hands it a
// fresh job, when it finishes.
const blockedSnooze = time.Hour

// claimSize is how many of a user's next messages a draining job takes over at a time: one
// transaction records a run of sends and claims the next run.
const claimSize = 32

// sender sends the messages its job owns, then drains the user's queue behind them.
type sender struct {
	river.WorkerDefaults[sendArgs]
	svc *Service
}

func (w *sender) Timeout(*river.Job[sendArgs]) time.Duration { return w.svc.cfg.jobTimeout() }

// Work sends the job's messages in order, one at a time: the first is its user's head (else it
// waits behind the head). While every send succeeds it goes on with the user's next messages,
// claimed claimSize at a time in the transaction that records the last run, so a backlog drains
// as fast as the destination answers, with no queue poll between messages. It stops draining
// after the configured DrainFor (another job goes on), when the service stops or the job's time
// is up, or on a failure (River retries the job: it still owns the failed message).
func (w *sender) Work(ctx context.Context, job *river.Job[sendArgs]) error {
	s := w.svc
	started := time.Now()
	owned, head, err := s.store.OwnedBy(ctx, job.ID)
	if err != nil || len(owned) == 0 {
		return err // nothing (left) to send: delivered, dead, or handed to a newer job
	}
	if head != owned[0].ID {
		return s.waitBehind(ctx, owned[0])
	}
	// A retried job (it failed before) sends its first message only and does not drain: its
	// attempt count is that message's; the rest it owns get a fresh job (FinishAttempts).
	retried := len(job.Errors) > 0
	for {
		drain := !retried && time.Since(started) < s.cfg.DrainFor && !s.stopping.Load()
		run := owned
		if retried {
			run = owned[:1]
		}
		sent, wait, err := s.sendRun(ctx, job, run)
		if err != nil {
			return err
		}
		claim := 0
		if drain && ctx.Err() == nil {
			claim = claimSize
		}
		last := sent[len(sent)-1]
		// The outcome is written even when the job's time ran out meanwhile. Claimed messages
		// come back the queue's head first: they are sent next without looking again.
		next, stillOwned, err := s.store.FinishAttempts(context.WithoutCancel(ctx), job.ID, owned[0], sent, claim, s.insertJobs)
		if err != nil || !stillOwned {
			return err
		}
		if last.Err != "" {
			return s.failed(job, owned[0].Destination, last, wait)
		}
		if len(next) == 0 {
			return nil
		}
		owned = next
	}
}

// sendRun sends msgs in order until one fails, and returns the attempts made (at least one)
// and how long a failing destination asked to wait.
func (s *Service) sendRun(ctx context.Context, job *river.Job[sendArgs], msgs []storage.ForwardMessage) ([]storage.Sent, time.Duration, error) {
	ids := make([]int64, len(msgs))
	for i, m := range msgs {
		ids[i] = m.ID
	}
	small, err := s.store.SmallOutgoing(ctx, ids) // one round trip for the run, not one each
	if err != nil {
		return nil, 0, err
	}
	var sent []storage.Sent
	for _, m := range msgs {
		out, found := small[m.ID]
		if !found { // a large body, loaded when its turn comes; or gone
			if out, found, err = s.store.OutgoingByID(ctx, m.ID); err != nil {
				return nil, 0, err
			}
		}
		if !found {
			break
		}
		a := storage.Sent{ID: m.ID, Attempt: storage.Attempt{At: time.Now().UTC()}}
		var wait time.Duration
		if dest, ok := s.destinations[m.Destination]; ok {
			a.Status, a.Err, wait = s.send(ctx, dest, out)
			if s.cfg.Observe != nil {
				s.cfg.Observe(dest.URL, a.Status)
			}
		} else {
			a.Err = "destination no longer configured"
		}
		gone := a.Status == http.StatusGone // the receiver says it will never take it: dead at once
		a.Final = a.Err != "" && (job.Attempt >= job.MaxAttempts || gone)
		sent = append(sent, a)
		if a.Err != "" {
			return sent, wait, nil
		}
		if ctx.Err() != nil {
			break
		}
	}
	if len(sent) == 0 {
		return nil, 0, errors.New("forwarding: the job's messages vanished")
	}
	return sent, 0, nil
}

// failed ends a job run whose last attempt failed: dead at once (410), retried by River with
// our backoff (or the destination's Retry-After), or discarded after the last attempt.
func (s *Service) failed(job *river.Job[sendArgs], destination string, a storage.Sent, wait time.Duration) error {
	if a.Final {
		s.logger.Warn("forwarding: message dead", "destination", destination, "message", a.ID, "attempts", job.Attempt, "error", a.Err)
	}
	if a.Status == http.StatusGone {
		return river.JobCancel(errors.New(a.Err)) // no retry
	}
	if wait > 0 {
		s.retryAfter.Store(job.ID, wait)
	}
	return errors.New(a.Err)
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

// waitBehind snoozes m's job behind the earlier pending message of its queue, the head. Should
// the head have lost its job (finished without handing over, e.g. a database failure on its
// last attempt), it gets a fresh one so the user's queue cannot stall.
func (s *Service) waitBehind(ctx context.Context, m storage.ForwardMessage) error {
	head, found, err := s.store.FirstPending(ctx, m.Destination, m.EvotorUserID)
	if err != nil {
		return err
	}
	if !found || head.ID == m.ID { // the head finished meanwhile: look again soon
		return river.JobSnooze(time.Second)
	}
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
