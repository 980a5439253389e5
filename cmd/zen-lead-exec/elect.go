package main

// The shell of the election: reads, conditional writes and a watch of one Lease through the typed
// client, driving the pure decisions of record.go. Not client-go's leaderelection package: that one
// steps down only at its next renewal attempt and does not bump leaseTransitions when the same
// identity acquires again, and every tenure here must have its own fencing token.
//
// Observations come from three sources: reads, our own writes, and the watch (which turns "the
// holder released" into an immediate try instead of a poll). The watch is only a hint: every
// decision is still made on a fresh read and written with the resourceVersion it was made on.

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	coordinationclient "k8s.io/client-go/kubernetes/typed/coordination/v1"
)

var errTimedOut = errors.New("not leading within --timeout")

// Elector campaigns for one Lease as one identity, one tenure at a time.
type Elector struct {
	leases    coordinationclient.LeaseInterface
	namespace string
	name      string
	identity  string
	timing    Timing
	pool      bool // follow the pools controller's nomination (nominate.go)

	mu       sync.Mutex
	obs      *Observation
	highest  int32  // the highest leaseTransitions ever seen; -1 before any
	reported string // the last holder logged as "new leader observed"
	tenure   *Tenure
	free     chan struct{} // a pending "try now" hint: the Lease is free or gone, or nominates us

	nomination Nomination // the nomination last observed (pool only)
	staleSaid  bool       // its going stale was logged
}

func newElector(leases coordinationclient.LeaseInterface, namespace, name, identity string, timing Timing,
	pool bool) *Elector {
	return &Elector{
		leases: leases, namespace: namespace, name: name, identity: identity, timing: timing, pool: pool,
		highest: -1, free: make(chan struct{}, 1),
	}
}

func (e *Elector) lease() string { return e.namespace + "/" + e.name }

func (e *Elector) delay() time.Duration {
	return jittered(e.timing.retryPeriod(), jitterFactor, rand.Float64())
}

// ---- observing ----------------------------------------------------------------------------------

func (e *Elector) observeLease(lease *coordinationv1.Lease, now time.Time) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.obs != nil && isOlder(lease.ResourceVersion, e.obs.ResourceVersion) {
		return // a watch event still in flight from before what we already know
	}
	r := recordOf(lease)
	e.obs = observe(e.obs, r, lease.ResourceVersion, now)
	e.highest = max(e.highest, r.Transitions)
	if t := e.tenure; t != nil && supersedes(r, t.Token) {
		t.lose(fmt.Sprintf("the Lease shows a newer tenure: '%s', transitions %d", r.Holder, r.Transitions))
	}
	if e.pool { // first: a lost tenure hands nothing over, a free Lease nominating another is no hint
		e.nominate(nominationOf(lease), now)
	}
	if !r.held() {
		if !e.yields(now) {
			e.signalFree()
		}
	} else if r.Holder != e.reported {
		e.reported = r.Holder
		logf("new leader observed for %s: %s", e.lease(), r.Holder)
	}
}

func (e *Elector) observeMissing() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.obs = nil
	e.nominate("", time.Now()) // a Lease that is gone nominates nobody
	e.signalFree()
}

// yields: at now, the nomination last observed binds us to yield to another pod (never without
// --pool). e.mu held.
func (e *Elector) yields(now time.Time) bool {
	return e.nomination.Binding(e.identity, now, e.timing.leaseDuration())
}

// nominate takes in the nomination a Lease shows at now: once per change, a candidate is told to
// wait or to try at once, a leader to hand over (its tenure goes on meanwhile). e.mu held.
func (e *Elector) nominate(nominee string, now time.Time) {
	t := e.tenure
	leading := t != nil && t.Reason() == ""
	next, action := nominationChange(e.nomination, nominee, e.identity, leading, now, e.timing.leaseDuration())
	if action != nominationSame {
		e.nomination, e.staleSaid = next, false
	}
	switch action {
	case nominationTry:
		e.signalFree()
	case nominationHandOver:
		t.handOver(nominee)
		fallthrough
	case nominationWait:
		logf("%s nominates %s: %s", e.lease(), nominee, nominationVerb(action))
	}
}

func (e *Elector) signalFree() {
	select {
	case e.free <- struct{}{}:
	default:
	}
}

func (e *Elector) drainFree() {
	select {
	case <-e.free:
	default:
	}
}

// get reads the Lease (nil when there is none) and observes it.
func (e *Elector) get(ctx context.Context, limit time.Duration) (*coordinationv1.Lease, error) {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	lease, err := e.leases.Get(ctx, e.name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		e.observeMissing()
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", e.lease(), err)
	}
	e.observeLease(lease, time.Now())
	return lease, nil
}

func (e *Elector) update(ctx context.Context, lease *coordinationv1.Lease, limit time.Duration) (*coordinationv1.Lease, error) {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	return e.leases.Update(ctx, lease, metav1.UpdateOptions{})
}

// Watch feeds observations from a watch of the one Lease until ctx ends, re-established after
// errors (after a jittered retry period, so a refusing apiserver is not hammered).
func (e *Elector) Watch(ctx context.Context) {
	serverTimeout := int64(300)
	for ctx.Err() == nil {
		began := time.Now()
		w, err := e.leases.Watch(ctx, metav1.ListOptions{
			FieldSelector:  "metadata.name=" + e.name,
			TimeoutSeconds: &serverTimeout,
		})
		if err == nil {
			e.follow(w)
		}
		if time.Since(began) > e.timing.retryPeriod() {
			continue // a watch that lived (the server's timeout): re-establish at once
		}
		select {
		case <-time.After(e.delay()):
		case <-ctx.Done():
		}
	}
}

func (e *Elector) follow(w watch.Interface) {
	defer w.Stop()
	for event := range w.ResultChan() {
		switch event.Type {
		case watch.Added, watch.Modified:
			if lease, ok := event.Object.(*coordinationv1.Lease); ok {
				e.observeLease(lease, time.Now())
			}
		case watch.Deleted:
			e.observeMissing()
		case watch.Error:
			return
		}
	}
}

// ---- acquiring ----------------------------------------------------------------------------------

// Acquire tries until it leads (a Tenure), ctx ends (its error), or deadline (if not zero) passes
// after a try (errTimedOut). A try in flight when ctx ends is finished, and may still win: the
// caller then releases.
func (e *Elector) Acquire(ctx context.Context, deadline time.Time) (*Tenure, error) {
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		e.drainFree()
		t, yielded, err := e.tryAcquire()
		if t != nil {
			return t, nil
		}
		failed := err != nil
		if failed {
			logf("could not try to acquire %s: %v", e.lease(), err)
			e.drainFree() // the read may have shown it free; the write failed: do not retry at once
		}
		now := time.Now()
		e.mu.Lock()
		// Yielding to a nomination, a Lease that ran out is no reason to try at once: poll (and wake
		// on a change of the nomination: the "try now" hint), and at the latest when it stops binding.
		wake := nextTryAt(e.obs, now, e.delay(), failed || yielded)
		if yielded {
			wake = yieldUntil(e.nomination, wake, e.timing.leaseDuration())
		}
		e.mu.Unlock()
		if !deadline.IsZero() {
			if !now.Before(deadline) {
				return nil, errTimedOut
			}
			if deadline.Before(wake) {
				wake = deadline
			}
		}
		timer := time.NewTimer(time.Until(wake))
		select {
		case <-timer.C:
		case <-e.free:
		case <-ctx.Done():
		}
		timer.Stop()
	}
}

// tryAcquire is one attempt: a new Tenure, nil when someone else holds the Lease (yielded: or it
// nominates another pod), or an error when the API could not be reached. Its calls are not
// cancelled by a stop: a write cut off half-way would leave a Lease naming us that nobody releases.
func (e *Elector) tryAcquire() (*Tenure, bool, error) {
	limit := e.timing.callTimeout()
	current, err := e.get(context.Background(), limit)
	if err != nil {
		return nil, false, err
	}
	e.mu.Lock()
	now := time.Now()
	plan := planAcquire(e.obs, e.identity, now, e.highest+1)
	yielded := e.yields(now)
	if e.nomination.Stale(e.identity, now, e.timing.leaseDuration()) && !e.staleSaid {
		e.staleSaid = true
		logf("%s nominates %s, who has not taken it for %ss: campaigning", e.lease(), e.nomination.Nominee,
			g(e.timing.LeaseDuration))
	}
	e.mu.Unlock()
	if yielded {
		// One seen by this read or the watch stops us here; one written after this read makes the
		// conditional write below fail.
		return nil, true, nil
	}
	if plan.Kind == PlanWait || (plan.Kind == PlanUpdate && current == nil) {
		return nil, false, nil // (the second: the watch saw it created after our read; the next try reads it)
	}
	started := time.Now()
	_, stamp := wallStamp(started)
	r := heldRecord(e.identity, e.timing.leaseDurationSeconds(), stamp, stamp, plan.Transitions)
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	var written *coordinationv1.Lease
	if plan.Kind == PlanCreate {
		lease := &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: e.name, Namespace: e.namespace}}
		writeRecord(lease, r)
		written, err = e.leases.Create(ctx, lease, metav1.CreateOptions{})
	} else {
		// The object as read: labels and annotations stay, and its resourceVersion makes the write
		// conditional.
		lease := current.DeepCopy()
		writeRecord(lease, r)
		written, err = e.leases.Update(ctx, lease, metav1.UpdateOptions{})
	}
	switch {
	case apierrors.IsConflict(err) || apierrors.IsAlreadyExists(err):
		_, _ = e.get(context.Background(), limit) // someone else wrote first: learn who
		return nil, false, nil
	case apierrors.IsNotFound(err):
		e.observeMissing()
		return nil, false, nil
	case err != nil:
		return nil, false, fmt.Errorf("write %s: %w", e.lease(), err)
	}
	return e.beginTenure(written, started), false, nil
}
