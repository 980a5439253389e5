package main

// One tenure: the renewals every retry period, the step-down AT the deadline (a timer of its own,
// not the next renewal attempt), and the release.

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

// ---- leading ------------------------------------------------------------------------------------

// Tenure is one term of leadership: valid until its deadline (renew-deadline after the START of the
// last successful renewal, or of the acquiring write) unless lost or released earlier.
type Tenure struct {
	e     *Elector
	Token int32 // leaseTransitions of this tenure: the fencing token

	writeMu sync.Mutex // our writes one at a time (renewal, slot mark, release): no self-conflicts

	mu           sync.Mutex
	lease        *coordinationv1.Lease // our last write, the base of the next one
	renewStarted time.Time
	deadline     time.Time
	reason       string // why it ended; "" while it lasts
	lost         chan struct{}
	nominee      string        // the pod nominated instead of us ("" unless handing over)
	handover     chan struct{} // closed when the pools controller nominates another pod

	cancel  context.CancelFunc // stops the renewals and the deadline timer
	renewed chan struct{}      // closed when the renewals stopped
}

func (e *Elector) beginTenure(written *coordinationv1.Lease, started time.Time) *Tenure {
	ctx, cancel := context.WithCancel(context.Background())
	t := &Tenure{
		e: e, Token: recordOf(written).Transitions, lease: written,
		renewStarted: started, deadline: started.Add(e.timing.renewDeadline()),
		lost: make(chan struct{}), handover: make(chan struct{}), cancel: cancel, renewed: make(chan struct{}),
	}
	e.mu.Lock()
	e.tenure = t
	if e.yields(time.Now()) { // seen (by the watch) after our read, before this tenure was known
		t.handOver(e.nomination.Nominee)
		logf("%s nominates %s: %s", e.lease(), e.nomination.Nominee, nominationVerb(nominationHandOver))
	}
	e.mu.Unlock()
	e.observeLease(written, time.Now())
	go t.deadlineTimer(ctx)
	go t.renewals(ctx)
	return t
}

// Lost is closed when the tenure ends (Reason says why).
func (t *Tenure) Lost() <-chan struct{} { return t.lost }

func (t *Tenure) Reason() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.reason
}

func (t *Tenure) Deadline() time.Time {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.deadline
}

// Handover is closed when the pools controller nominates another pod (Nominee) during the tenure:
// the leader should stop its program and release. The tenure itself goes on until then.
func (t *Tenure) Handover() <-chan struct{} { return t.handover }

func (t *Tenure) Nominee() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.nominee
}

// HandingOver: the tenure is to be handed over (no I/O).
func (t *Tenure) HandingOver() bool { return t.Nominee() != "" }

func (t *Tenure) handOver(nominee string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.nominee == "" {
		close(t.handover)
	}
	t.nominee = nominee
}

// Valid: still leading, by local knowledge (no I/O). A process that was paused past its deadline is
// invalid the moment it wakes, before any timer fires.
func (t *Tenure) Valid() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.reason == "" && time.Now().Before(t.deadline)
}

func (t *Tenure) lose(reason string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.reason == "" {
		t.reason = reason
		close(t.lost)
	}
}

// left is a call's time limit while leading: the API timeout, never past the deadline.
func (t *Tenure) left() time.Duration {
	return min(t.e.timing.callTimeout(), time.Until(t.Deadline()))
}

func (t *Tenure) base() *coordinationv1.Lease {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.lease.DeepCopy()
}

// adopt makes a write of ours that left the tenure as it was (the slot mark) the base of the next.
func (t *Tenure) adopt(lease *coordinationv1.Lease) {
	t.mu.Lock()
	if !isOlder(lease.ResourceVersion, t.lease.ResourceVersion) {
		t.lease = lease
	}
	t.mu.Unlock()
	t.e.observeLease(lease, time.Now())
}

// deadlineTimer ends the tenure AT its deadline, whatever the renewals are doing at that moment.
func (t *Tenure) deadlineTimer(ctx context.Context) {
	for {
		left := time.Until(t.Deadline())
		if left <= 0 {
			t.lose(t.e.timing.deadlineReason())
			return
		}
		if !t.sleep(ctx, left) { // the deadline may have moved meanwhile: look again when it fires
			return
		}
	}
}

// sleep waits for d; false when the tenure ended or ctx was cancelled first.
func (t *Tenure) sleep(ctx context.Context, d time.Duration) bool {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return true
	case <-t.lost:
		return false
	case <-ctx.Done():
		return false
	}
}

type lostError struct{ reason string }

func (l *lostError) Error() string { return l.reason }

// renewals renews every retry period until the tenure ends or ctx is cancelled.
func (t *Tenure) renewals(ctx context.Context) {
	defer close(t.renewed)
	period := t.e.timing.retryPeriod()
	t.mu.Lock()
	next := t.renewStarted.Add(period)
	t.mu.Unlock()
	for {
		if !t.sleep(ctx, time.Until(next)) {
			return
		}
		if !t.Valid() {
			return
		}
		started, err := t.renew(ctx)
		var lost *lostError
		switch {
		case err == nil:
			next = started.Add(period)
		case errors.As(err, &lost):
			t.lose(lost.reason)
			return
		case ctx.Err() != nil:
			return
		default:
			logf("could not renew %s (%.1fs left before stepping down): %v",
				t.e.lease(), time.Until(t.Deadline()).Seconds(), err)
			next = time.Now().Add(period / 2)
		}
	}
}

// renew writes a new renewTime (same holder, acquireTime, transitions) conditional on our last
// write. A conflict means a write we did not see: if the Lease still shows our tenure (someone only
// edited annotations, or an earlier renewal of ours timed out after it was applied) renew on top of
// it; anything else means we lost.
func (t *Tenure) renew(ctx context.Context) (time.Time, error) {
	t.writeMu.Lock()
	defer t.writeMu.Unlock()
	e := t.e
	started := time.Now()
	_, stamp := wallStamp(started)
	base := t.base()
	for range 2 {
		r := recordOf(base)
		r.LeaseDurationSeconds, r.RenewTime = e.timing.leaseDurationSeconds(), stamp
		lease := base.DeepCopy()
		writeRecord(lease, r)
		written, err := e.update(ctx, lease, t.left())
		if err == nil {
			t.mu.Lock()
			t.lease, t.renewStarted = written, started
			if t.reason == "" {
				t.deadline = started.Add(e.timing.renewDeadline())
			}
			t.mu.Unlock()
			e.observeLease(written, time.Now())
			return started, nil
		}
		if apierrors.IsNotFound(err) {
			return started, &lostError{"the Lease was deleted"}
		}
		if !apierrors.IsConflict(err) {
			return started, fmt.Errorf("renew %s: %w", e.lease(), err)
		}
		current, err := e.get(ctx, t.left())
		if err != nil {
			return started, err
		}
		if current == nil {
			return started, &lostError{"the Lease now shows no Lease"}
		}
		if r := recordOf(current); !stillOurs(r, e.identity, t.Token) {
			return started, &lostError{fmt.Sprintf("the Lease now shows '%s'", r.Holder)}
		}
		base = current
	}
	return started, fmt.Errorf("renew %s: conflicting writes", e.lease())
}

// ---- releasing ----------------------------------------------------------------------------------

// Release ends the tenure. If it was still valid, it writes client-go's released record conditional
// on our last write (so it cannot erase anyone else's tenure) and reports whether that worked. After
// a loss nothing is written: the Lease is someone else's, or expires anyway.
func (e *Elector) Release(t *Tenure) bool {
	t.cancel()
	<-t.renewed
	wasValid := t.Valid()
	t.lose("released")
	e.mu.Lock()
	if e.tenure == t {
		e.tenure = nil
	}
	e.mu.Unlock()
	if !wasValid {
		return false
	}
	t.writeMu.Lock()
	defer t.writeMu.Unlock()
	limit := e.timing.callTimeout()
	_, stamp := wallStamp(time.Now())
	base := t.base()
	for range 2 {
		lease := base.DeepCopy()
		writeRecord(lease, releasedRecord(recordOf(base), stamp))
		written, err := e.update(context.Background(), lease, limit)
		switch {
		case err == nil:
			e.observeLease(written, time.Now())
			logf("released %s", e.lease())
			return true
		case apierrors.IsNotFound(err):
			return false
		case apierrors.IsConflict(err):
			current, err := e.get(context.Background(), limit)
			if err != nil || current == nil || !stillOurs(recordOf(current), e.identity, t.Token) {
				return false
			}
			base = current
		default:
			logf("could not release %s, it will expire: %v", e.lease(), err)
			return false
		}
	}
	return false
}
