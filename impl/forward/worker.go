package forward

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/evotor-partner/evotor-partner/impl/store"
)

// sendArgs is one message's job.
type sendArgs struct {
	store.MessageKey
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
	if !found || m.State != store.ForwardPending || m.JobID == nil || *m.JobID != job.ID {
		return nil // delivered, dead, or handed to a newer job
	}
	head, _, err := s.store.FirstPending(ctx, m.Destination, m.EvotorUserID)
	if err != nil {
		return err
	}
	if head.ID != m.ID {
		return s.waitBehind(ctx, head)
	}
	a := store.Attempt{At: time.Now().UTC()}
	if dest, ok := s.destinations[m.Destination]; ok {
		a.Status, a.Err = s.send(ctx, dest, m)
	} else {
		a.Err = "destination no longer configured"
	}
	a.Final = a.Err != "" && job.Attempt >= job.MaxAttempts
	// The outcome is written even when the job's time ran out meanwhile.
	owned, err := s.store.FinishAttempt(context.WithoutCancel(ctx), m.ID, job.ID, a, s.insertJobs)
	if err != nil {
		return err
	}
	if a.Err != "" && owned {
		if a.Final {
			s.logger.Warn("forwarding: message dead", "destination", m.Destination, "message", MessageID(m.InboxID), "attempts", job.Attempt, "error", a.Err)
		}
		return errors.New(a.Err) // retried by River with our backoff; discarded after the last attempt
	}
	return nil
}

// waitBehind snoozes behind the earlier pending message head. Should head have lost its job
// (finished without handing over, e.g. a database failure on its last attempt), it gets a
// fresh one so the user's queue cannot stall.
func (s *Service) waitBehind(ctx context.Context, head store.ForwardMessage) error {
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

// send POSTs the message, signed; a 2xx is success. It returns the status (0: no answer) and
// why it failed ("" on success).
func (s *Service) send(ctx context.Context, dest Destination, m store.Outgoing) (int, string) {
	body, err := encode(m)
	if err != nil {
		return 0, shorten(err.Error())
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, dest.URL, bytes.NewReader(body))
	if err != nil {
		return 0, shorten(err.Error())
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "evotor-partner-forwarder")
	dest.Secret.SetHeaders(req.Header, MessageID(m.InboxID), time.Now(), body)
	resp, err := s.http.Do(req)
	if err != nil {
		return 0, shorten(err.Error())
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode/100 != 2 {
		return resp.StatusCode, fmt.Sprintf("HTTP %d", resp.StatusCode)
	}
	return resp.StatusCode, ""
}
