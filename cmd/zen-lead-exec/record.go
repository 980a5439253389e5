package main

// The pure core of the election: Lease records, observations and the decisions taken on them. No
// clock is read and no API is called here; the shell (elect.go) passes in two kinds of time:
//
//   - now: a time.Time carrying Go's MONOTONIC reading (time.Now()). Every safety decision uses it.
//   - timestamps: wall-clock MicroTime strings, only ever WRITTEN into the Lease (acquireTime,
//     renewTime) for humans and for client-go, never compared with anything.
//
// Like client-go and zen-lead's Python elector, a candidate never compares its clock with timestamps
// written by others: a Lease held by someone else is expired when its record has not changed for
// leaseDurationSeconds since WE first observed it.

import (
	"math"
	"strconv"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

const (
	// jitterFactor is client-go's: candidates wait retryPeriod * (1 + rand * jitterFactor).
	jitterFactor = 1.2
	// releasedLeaseDurationSeconds is what client-go writes into leaseDurationSeconds on release.
	releasedLeaseDurationSeconds = 1
)

// Record is the five spec fields of a coordination.k8s.io/v1 Lease that election uses. Missing
// fields read as client-go reads them: empty holder, zero duration, zero transitions. Times are kept
// as the strings the apiserver shows, so "the same record" is plain struct equality.
type Record struct {
	Holder               string
	LeaseDurationSeconds int32
	AcquireTime          string
	RenewTime            string
	Transitions          int32
}

func (r Record) held() bool { return r.Holder != "" }

// recordOf reads a Lease's spec the way client-go's LeaseSpecToLeaderElectionRecord does.
func recordOf(lease *coordinationv1.Lease) Record {
	spec := lease.Spec
	var r Record
	if spec.HolderIdentity != nil {
		r.Holder = *spec.HolderIdentity
	}
	if spec.LeaseDurationSeconds != nil {
		r.LeaseDurationSeconds = *spec.LeaseDurationSeconds
	}
	r.AcquireTime = microText(spec.AcquireTime)
	r.RenewTime = microText(spec.RenewTime)
	if spec.LeaseTransitions != nil {
		r.Transitions = *spec.LeaseTransitions
	}
	return r
}

func microText(t *metav1.MicroTime) string {
	if t == nil || t.IsZero() {
		return ""
	}
	return t.UTC().Format(metav1.RFC3339Micro)
}

// writeRecord sets all five fields on lease, always present (like client-go's
// LeaderElectionRecordToLeaseSpec), and leaves everything else (labels, annotations,
// preferredHolder, strategy) as it is.
func writeRecord(lease *coordinationv1.Lease, r Record) {
	holder, duration, transitions := r.Holder, r.LeaseDurationSeconds, r.Transitions
	lease.Spec.HolderIdentity = &holder
	lease.Spec.LeaseDurationSeconds = &duration
	lease.Spec.LeaseTransitions = &transitions
	lease.Spec.AcquireTime = microTimeOf(r.AcquireTime)
	lease.Spec.RenewTime = microTimeOf(r.RenewTime)
}

// microTimeOf parses a record's time (our own stamps: always RFC3339Micro); empty means unset.
func microTimeOf(text string) *metav1.MicroTime {
	parsed, err := time.Parse(metav1.RFC3339Micro, text)
	if err != nil {
		return nil
	}
	t := metav1.NewMicroTime(parsed)
	return &t
}

// wallStamp is the wall clock as the Lease stores it: UTC, cut to microseconds (what the apiserver
// keeps and shows anyway, so our own record compares equal to what we read back), no monotonic part.
func wallStamp(now time.Time) (time.Time, string) {
	wall := now.Round(0).UTC().Truncate(time.Microsecond)
	return wall, wall.Format(metav1.RFC3339Micro)
}

// Observation is a record as this candidate saw it, with the local monotonic time it FIRST saw it.
type Observation struct {
	Record          Record
	ResourceVersion string
	ObservedAt      time.Time
}

// ExpiresAt is the local monotonic time after which a silent holder may be replaced.
func (o *Observation) ExpiresAt() time.Time {
	return o.ObservedAt.Add(time.Duration(o.Record.LeaseDurationSeconds) * time.Second)
}

func (o *Observation) expired(now time.Time) bool { return !now.Before(o.ExpiresAt()) }

// observe folds a freshly read record into what we knew: the clock restarts only when one of the five
// fields changed; a change elsewhere in the object (labels, annotations) keeps it running.
func observe(previous *Observation, r Record, resourceVersion string, now time.Time) *Observation {
	if previous != nil && previous.Record == r {
		return &Observation{Record: r, ResourceVersion: resourceVersion, ObservedAt: previous.ObservedAt}
	}
	return &Observation{Record: r, ResourceVersion: resourceVersion, ObservedAt: now}
}

// isOlder: resourceVersion a is older than b. Versions are opaque by contract but etcd's are integers;
// a watch event still in flight from before what we already know must not undo a newer observation.
// Anything not numeric is never "older".
func isOlder(a, b string) bool {
	x, errA := strconv.ParseUint(a, 10, 64)
	y, errB := strconv.ParseUint(b, 10, 64)
	return errA == nil && errB == nil && x < y
}

// PlanKind says what a candidate does next.
type PlanKind int

const (
	PlanCreate PlanKind = iota // no Lease: create it (409 AlreadyExists: someone was faster)
	PlanUpdate                 // write our record, conditional on ResourceVersion
	PlanWait                   // someone else holds a Lease we have not seen expire: wait until Until
)

// Plan is the decision of planAcquire.
type Plan struct {
	Kind            PlanKind
	Transitions     int32     // leaseTransitions of the new tenure (Create, Update)
	ResourceVersion string    // Update: the version the write is conditional on
	Holder          string    // Wait: who holds it
	Until           time.Time // Wait: when its lease runs out by our clock
}

// planAcquire decides for a candidate that does NOT currently lead, given the latest observation.
//
//   - no Lease: create it. Transitions start at minTransitions (the highest we ever saw + 1, 0 at
//     first), so a deleted and re-created Lease does not hand out old tokens again, within this process;
//   - held by someone else and not expired by our own clock: wait until it would expire;
//   - free (empty holder), expired, or naming us from an earlier tenure: take it as a NEW tenure,
//     leaseTransitions + 1. The write carries the observed resourceVersion, so it fails if anyone
//     renewed or took the Lease meanwhile.
func planAcquire(obs *Observation, identity string, now time.Time, minTransitions int32) Plan {
	if obs == nil {
		return Plan{Kind: PlanCreate, Transitions: max(0, minTransitions)}
	}
	r := obs.Record
	if r.held() && r.Holder != identity && !obs.expired(now) {
		return Plan{Kind: PlanWait, Holder: r.Holder, Until: obs.ExpiresAt()}
	}
	return Plan{
		Kind:            PlanUpdate,
		Transitions:     max(r.Transitions+1, minTransitions),
		ResourceVersion: obs.ResourceVersion,
	}
}

// heldRecord is the record of a new tenure, or of a renewal (same fields, new renewTime).
func heldRecord(identity string, leaseDurationSeconds int32, acquired, renewed string, transitions int32) Record {
	return Record{
		Holder:               identity,
		LeaseDurationSeconds: leaseDurationSeconds,
		AcquireTime:          acquired,
		RenewTime:            renewed,
		Transitions:          transitions,
	}
}

// releasedRecord is what client-go writes on release: no holder, leaseDurationSeconds 1, same
// transitions. Any candidate (ours or client-go's) takes an empty-holder Lease at its next try.
func releasedRecord(r Record, stamp string) Record {
	return Record{
		LeaseDurationSeconds: releasedLeaseDurationSeconds,
		AcquireTime:          stamp,
		RenewTime:            stamp,
		Transitions:          r.Transitions,
	}
}

// stillOurs: the Lease still shows our tenure (same holder, same transitions).
func stillOurs(r Record, identity string, transitions int32) bool {
	return r.Holder == identity && r.Transitions == transitions
}

// supersedes: a record that can only have been written after our tenure began, by someone else.
// Every acquisition increments leaseTransitions, so a higher value proves a newer tenure; a lower or
// equal one may be a stale event still in flight from before ours.
func supersedes(r Record, transitions int32) bool { return r.Transitions > transitions }

// jittered is client-go's wait.Jitter: period * (1 + rand * factor) for rand in [0, 1).
func jittered(period time.Duration, factor, rand float64) time.Duration {
	return time.Duration(float64(period) * (1 + rand*factor))
}

// nextTryAt is when a waiting candidate tries again: after delay, or earlier when the observed
// holder's lease runs out. After a try that could not reach the API it is always delay: the last
// observation may show a lease that ran out long ago, and "earlier" would be "at once", again and
// again — a candidate spinning on a refused connection.
func nextTryAt(obs *Observation, now time.Time, delay time.Duration, failed bool) time.Time {
	candidate := now.Add(delay)
	if failed || obs == nil || !obs.Record.held() {
		return candidate
	}
	expires := obs.ExpiresAt()
	if expires.Before(now) {
		expires = now
	}
	if expires.Before(candidate) {
		return expires
	}
	return candidate
}

// killAt is when the child gets SIGKILL after a loss detected at detected: grace after the
// detection, never later than grace after the tenure's deadline (the stop bound of flags.go).
func killAt(deadline, detected time.Time, grace time.Duration) time.Time {
	if deadline.Before(detected) {
		return deadline.Add(grace)
	}
	return detected.Add(grace)
}

// seconds turns a validated float number of seconds into a Duration.
func seconds(s float64) time.Duration { return time.Duration(math.Round(s * float64(time.Second))) }
