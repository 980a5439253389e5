package zenlead

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"zen-lead.io/client/zenleadv1"
)

const releaseTimeout = 5 * time.Second

// Lock is one tenure of a lock taken through the API, kept alive by a goroutine until Release or
// loss (see the package documentation for the loss rule).
type Lock struct {
	client    *Client
	namespace string
	name      string
	holder    string
	token     int64
	timing    timing

	mu       sync.Mutex
	deadline deadline
	renewed  time.Time // the start of the last successful renewal
	lostErr  error
	taken    bool
	released bool

	lost    chan struct{}
	stop    context.CancelFunc
	done    chan struct{}
	release sync.Once
}

// Token is the fencing token: the Lease's leaseTransitions, greater than every earlier holder's.
func (l *Lock) Token() int64 { return l.token }

// Holder is who holds the lock (the holder given to Acquire, or the generated one).
func (l *Lock) Holder() string { return l.holder }

// Name and Namespace name the lock (Namespace as the server filled it in).
func (l *Lock) Name() string      { return l.name }
func (l *Lock) Namespace() string { return l.namespace }

// Lost is closed when the lock is lost (not when it is released).
func (l *Lock) Lost() <-chan struct{} { return l.lost }

// Err is why the lock was lost (wrapping ErrLost), or nil.
func (l *Lock) Err() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lostErr
}

// Valid reports whether the lock may still be used: not lost, not released, and less than 2/3 of
// the ttl since the start of the last successful renewal.
func (l *Lock) Valid() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lostErr == nil && !l.released && l.deadline.validAt(time.Now())
}

// Renewed is when the last successful renewal started (local time).
func (l *Lock) Renewed() time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.renewed
}

func defaultHolder() string {
	host, _ := os.Hostname()
	suffix := make([]byte, 4)
	_, _ = rand.Read(suffix)
	tail := "-" + hex.EncodeToString(suffix)
	if len(host) > HolderMax-len(tail) {
		host = host[:HolderMax-len(tail)]
	}
	return host + tail
}

// Acquire takes the lock name for ttl (whole seconds, 2 s to 1 h) between renewals, as holder
// (empty: "<hostname>-<random>", unique to this call), waiting up to wait for a lock someone else
// holds (0: one try; waits longer than the server's 60 s take several calls). A lock that stays held
// gives an error wrapping ErrNotAcquired.
func (c *Client) Acquire(ctx context.Context, name string, ttl time.Duration, holder string, wait time.Duration) (*Lock, error) {
	t, err := newTiming(ttl)
	if err != nil {
		return nil, err
	}
	if holder == "" {
		holder = defaultHolder()
	}
	if len(holder) > HolderMax {
		return nil, errorf("holder must be 1 to %d characters (got %d)", HolderMax, len(holder))
	}
	if wait < 0 {
		return nil, errorf("wait must be >= 0 (got %v)", wait)
	}
	until := time.Now().Add(wait)
	retry := c.backoff()
	for {
		callWait := min(max(time.Until(until), 0), WaitPerCallMax)
		callCtx, cancel := context.WithTimeout(ctx, callWait+c.opts.callTimeout)
		started := time.Now()
		answer, err := c.locks.Acquire(callCtx, &zenleadv1.AcquireLockRequest{
			Namespace: c.opts.namespace, Name: name, Holder: holder,
			TtlSeconds: int64(ttl / time.Second), WaitSeconds: callWait.Seconds(),
		})
		cancel()
		if err == nil {
			return c.startLock(name, holder, answer, t, started), nil
		}
		if status.Code(err) != codes.FailedPrecondition {
			return nil, err
		}
		if !time.Now().Before(until) {
			return nil, errors.Join(ErrNotAcquired, err)
		}
		if err := sleep(ctx, min(retry.next(), max(time.Until(until), 0))); err != nil {
			return nil, err
		}
	}
}

func (c *Client) startLock(name, holder string, answer *zenleadv1.Lock, t timing, started time.Time) *Lock {
	ctx, stop := context.WithCancel(context.Background())
	namespace := answer.GetNamespace()
	if namespace == "" {
		namespace = c.opts.namespace
	}
	l := &Lock{
		client: c, namespace: namespace, name: name, holder: holder, token: answer.GetToken(),
		timing: t, renewed: started, lost: make(chan struct{}), stop: stop, done: make(chan struct{}),
	}
	l.deadline.renewed(started, t)
	go l.keep(ctx)
	return l
}

type takenError struct{ reason string }

func (e takenError) Error() string { return e.reason }

func (l *Lock) request() *zenleadv1.RenewLockRequest {
	return &zenleadv1.RenewLockRequest{Namespace: l.namespace, Name: l.name, Holder: l.holder, Token: l.token}
}

// keep renews until released (ctx cancelled) or lost.
func (l *Lock) keep(ctx context.Context) {
	defer close(l.done)
	err := l.renewUntilLost(ctx)
	if ctx.Err() != nil {
		return // released
	}
	l.mu.Lock()
	var taken takenError
	if errors.As(err, &taken) {
		l.taken = true
		l.lostErr = errorf("%w: %s", ErrLost, taken.reason)
	} else {
		l.lostErr = errorf("%w: no renewal succeeded for %v (2/3 of the ttl)", ErrLost, l.timing.renewDeadline())
	}
	l.mu.Unlock()
	close(l.lost)
}

func (l *Lock) remaining() time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	return time.Until(l.deadline.at)
}

func (l *Lock) succeeded(answer *zenleadv1.Lock, started time.Time) error {
	if !answer.GetHeld() || answer.GetHolder() != l.holder || answer.GetToken() != l.token {
		return takenError{"held by " + answer.GetHolder() + " now"}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.deadline.renewed(started, l.timing)
	if started.After(l.renewed) {
		l.renewed = started
	}
	return nil
}

// refused is a takenError for the answers that end the tenure at once: someone else holds the lock or
// the token is stale (FailedPrecondition), or its Lease is gone (NotFound) — anyone may create it again
// right away, so waiting for the renew deadline would leave two holders.
func refused(err error) error {
	if code := status.Code(err); code == codes.FailedPrecondition || code == codes.NotFound {
		return takenError{"the server refused the renewal: " + status.Convert(err).Message()}
	}
	return nil
}

// renewUntilLost returns a takenError, an error when the deadline passed, or ctx's error.
func (l *Lock) renewUntilLost(ctx context.Context) error {
	retry := l.client.backoff()
	for {
		if err := refused(l.keepAlive(ctx)); err != nil {
			return err
		}
		for { // resume with Renew (namespace, name, holder, token), on any replica
			if ctx.Err() != nil {
				return ctx.Err()
			}
			left := l.remaining()
			if left <= 0 {
				return context.DeadlineExceeded
			}
			if err := sleep(ctx, min(retry.next(), left)); err != nil {
				return err
			}
			if l.remaining() <= 0 {
				return context.DeadlineExceeded
			}
			started := time.Now()
			callCtx, cancel := context.WithTimeout(ctx, max(l.remaining(), 100*time.Millisecond))
			answer, err := l.client.locks.Renew(callCtx, l.request())
			cancel()
			if err != nil {
				if taken := refused(err); taken != nil {
					return taken
				}
				continue
			}
			if err := l.succeeded(answer, started); err != nil {
				return err
			}
			retry.reset()
			break
		}
	}
}

// keepAlive runs one KeepAlive stream: a renewal every ttl/6, each answer matched to the time its
// request was sent (answers come in order). It returns when the stream ends, breaks, falls silent
// for two renewals or the deadline passes.
func (l *Lock) keepAlive(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := l.client.locks.KeepAlive(ctx)
	if err != nil {
		return err
	}
	answers := make(chan received[*zenleadv1.Lock])
	go func() {
		for {
			answer, err := stream.Recv()
			select {
			case answers <- received[*zenleadv1.Lock]{answer, err}:
			case <-ctx.Done():
				return
			}
			if err != nil {
				return
			}
		}
	}()
	var sent []time.Time
	ticker := time.NewTicker(l.timing.renewInterval())
	defer ticker.Stop()
	silence := time.NewTimer(min(l.timing.streamSilence(), l.remaining()))
	defer silence.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-silence.C:
			return errSilent
		case <-ticker.C:
			sent = append(sent, time.Now())
			if err := stream.Send(l.request()); err != nil {
				if errors.Is(err, io.EOF) {
					continue // the stream ended: Recv tells why
				}
				return err
			}
		case r := <-answers:
			if r.err != nil {
				return r.err
			}
			started := time.Now()
			if len(sent) > 0 {
				started, sent = sent[0], sent[1:]
			}
			if err := l.succeeded(r.message, started); err != nil {
				return err
			}
			silence.Reset(min(l.timing.streamSilence(), l.remaining()))
		}
	}
}

// Release stops the keep-alive and gives the lock back; true when the server released it. After a
// loss it releases nothing (the lock is someone else's, or expires after its ttl). Safe to call more
// than once.
func (l *Lock) Release(ctx context.Context) (bool, error) {
	released := false
	var err error
	l.release.Do(func() {
		l.stop()
		<-l.done
		l.mu.Lock()
		taken := l.taken
		l.released = true
		l.mu.Unlock()
		if taken {
			return
		}
		ctx, cancel := context.WithTimeout(ctx, releaseTimeout)
		defer cancel()
		var answer *zenleadv1.ReleaseLockResponse
		answer, err = l.client.locks.Release(ctx, &zenleadv1.ReleaseLockRequest{
			Namespace: l.namespace, Name: l.name, Holder: l.holder, Token: l.token,
		})
		released = err == nil && answer.GetReleased()
	})
	return released, err
}
