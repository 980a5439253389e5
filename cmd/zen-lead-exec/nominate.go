package main

// Following the pools controller's nomination (--pool only). The controller names, on the pool's
// Lease, the member that should lead: the annotation below (spec.preferredHolder where the apiserver
// serves it and the annotation is absent). It never writes over a campaigning holder's live tenure,
// so the wrapper itself must yield — but only for a while. A nomination of another pod is BINDING
// for lease-duration from the moment this wrapper first observed that value (local monotonic clock;
// a change of the value, to nobody and back included, starts the clock again; the same value seen
// again does not):
//
//   - while it is binding, a candidate does not try to acquire: it keeps watching, tries again at
//     once when the nomination changes to nobody or to us, and wakes up when it stops binding;
//   - a leader hands over when a binding nomination comes to name another pod: SIGTERM to the
//     program at once, SIGKILL grace later (never later than the loss rules say), the program
//     reaped, the Lease released — then it campaigns again, and the first rule keeps it waiting;
//   - once it is no longer binding (stale: the nominee has not taken the Lease in lease-duration —
//     its wrapper is gone while its pod stays Ready, and the controller keeps naming it) it is
//     ignored entirely, as if nobody were nominated, until the value changes.
//
// A nomination of nobody or of us never binds. The tenure's renewals and its deadline timer go on
// during a handover: a nomination is a request, never a loss of leadership, and the safety rules do
// not change.

import (
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
)

// annotationNominee is the pools controller's nomination (zen_lead.constants.ANNOTATION_NOMINEE).
const annotationNominee = "coordination.kube-zen.io/preferred-holder"

// nominationOf is the pod a Lease nominates, "" for nobody: the annotation when present (empty:
// nobody), else spec.preferredHolder.
func nominationOf(lease *coordinationv1.Lease) string {
	if nominee, ok := lease.Annotations[annotationNominee]; ok {
		return nominee
	}
	if lease.Spec.PreferredHolder != nil {
		return *lease.Spec.PreferredHolder
	}
	return ""
}

// nominatesOther: the nomination names a pod other than identity.
func nominatesOther(nominee, identity string) bool { return nominee != "" && nominee != identity }

// Nomination is the nomination last observed and when this wrapper first observed that value.
type Nomination struct {
	Nominee string    // "" for nobody
	Since   time.Time // when Nominee was first observed (a reading of the monotonic clock)
}

// see is the nomination after observing nominee at now: unchanged for the same value, else a new
// one first observed now.
func (n Nomination) see(nominee string, now time.Time) Nomination {
	if nominee == n.Nominee {
		return n
	}
	return Nomination{Nominee: nominee, Since: now}
}

// Until is when a nomination of another pod stops binding.
func (n Nomination) Until(leaseDuration time.Duration) time.Time { return n.Since.Add(leaseDuration) }

// Binding: at now, identity must yield to n (not try to acquire; hand over when leading).
func (n Nomination) Binding(identity string, now time.Time, leaseDuration time.Duration) bool {
	return nominatesOther(n.Nominee, identity) && now.Before(n.Until(leaseDuration))
}

// Stale: n names another pod, but no longer binds (it is ignored until the value changes).
func (n Nomination) Stale(identity string, now time.Time, leaseDuration time.Duration) bool {
	return nominatesOther(n.Nominee, identity) && !now.Before(n.Until(leaseDuration))
}

// nominationAction is what a change of the observed nomination asks of this wrapper.
type nominationAction int

const (
	nominationSame     nominationAction = iota // the same value: nothing to do
	nominationTry                              // nobody or us now: a waiting candidate tries at once
	nominationWait                             // another pod, binding, while not leading: do not try
	nominationHandOver                         // another pod, binding, while leading: hand over
)

// nominationChange decides on observing nominee at now after previous, for identity, which holds a
// lasting tenure when leading; it returns the nomination to keep as well.
func nominationChange(previous Nomination, nominee, identity string, leading bool, now time.Time,
	leaseDuration time.Duration) (Nomination, nominationAction) {
	next := previous.see(nominee, now)
	switch {
	case nominee == previous.Nominee:
		return next, nominationSame
	case !next.Binding(identity, now, leaseDuration):
		return next, nominationTry
	case leading:
		return next, nominationHandOver
	}
	return next, nominationWait
}

// yieldUntil is when a candidate that yielded to n tries again, given it would otherwise at wake:
// no later than the moment n stops binding.
func yieldUntil(n Nomination, wake time.Time, leaseDuration time.Duration) time.Time {
	if until := n.Until(leaseDuration); until.Before(wake) {
		return until
	}
	return wake
}

// nominationVerb is the last word of the log line of a change ("<lease> nominates <pod>: <verb>").
func nominationVerb(action nominationAction) string {
	if action == nominationHandOver {
		return "handing over"
	}
	return "waiting"
}

// earlier is when the program gets SIGKILL given one pending (zero: none) and a new reason for one
// at at: a handover's (grace after it began) or a loss's (killAt): the earlier of the two, so that
// neither a handover nor a loss during the other ever delays the SIGKILL.
func earlier(pending, at time.Time) time.Time {
	if pending.IsZero() || at.Before(pending) {
		return at
	}
	return pending
}
