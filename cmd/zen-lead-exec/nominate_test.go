package main

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	coordinationclient "k8s.io/client-go/kubernetes/typed/coordination/v1"
	fakecoordination "k8s.io/client-go/kubernetes/typed/coordination/v1/fake"
	k8stesting "k8s.io/client-go/testing"
)

func nominating(annotation *string, preferred *string) *coordinationv1.Lease {
	lease := &coordinationv1.Lease{}
	if annotation != nil {
		lease.Annotations = map[string]string{annotationNominee: *annotation}
	}
	lease.Spec.PreferredHolder = preferred
	return lease
}

func ptr(s string) *string { return &s }

func TestNominationOf(t *testing.T) {
	for _, c := range []struct {
		name                  string
		annotation, preferred *string
		want                  string
	}{
		{"nobody", nil, nil, ""},
		{"the annotation", ptr("b"), nil, "b"},
		{"an empty annotation: nobody", ptr(""), nil, ""},
		{"spec.preferredHolder when the annotation is absent", nil, ptr("c"), "c"},
		{"the annotation first", ptr("b"), ptr("c"), "b"},
		{"an empty annotation wins over spec.preferredHolder", ptr(""), ptr("c"), ""},
	} {
		if got := nominationOf(nominating(c.annotation, c.preferred)); got != c.want {
			t.Errorf("%s: got %q, want %q", c.name, got, c.want)
		}
	}
}

const ld = 15 * time.Second

func TestNominationBinding(t *testing.T) {
	b := Nomination{Nominee: "b", Since: at(10)}
	for _, c := range []struct {
		name    string
		n       Nomination
		now     time.Time
		binding bool
		stale   bool
	}{
		{"another pod, just seen", b, at(10), true, false},
		{"another pod, within lease-duration", b, at(24.9), true, false},
		{"another pod, lease-duration after first seen", b, at(25), false, true},
		{"another pod, long after", b, at(1000), false, true},
		{"us: never binding", Nomination{Nominee: "a", Since: at(10)}, at(11), false, false},
		{"nobody: never binding", Nomination{Since: at(10)}, at(11), false, false},
		{"nobody, never seen", Nomination{}, at(11), false, false},
	} {
		if got := c.n.Binding("a", c.now, ld); got != c.binding {
			t.Errorf("%s: binding %v, want %v", c.name, got, c.binding)
		}
		if got := c.n.Stale("a", c.now, ld); got != c.stale {
			t.Errorf("%s: stale %v, want %v", c.name, got, c.stale)
		}
	}
	if !b.Until(ld).Equal(at(25)) {
		t.Errorf("until: %v", b.Until(ld))
	}
}

func TestNominationClockStartsAtEachChange(t *testing.T) {
	n := Nomination{}.see("b", at(0))
	if n.Nominee != "b" || !n.Since.Equal(at(0)) {
		t.Fatalf("first seen: %+v", n)
	}
	if again := n.see("b", at(14)); again != n {
		t.Fatalf("the same value seen again restarted the clock: %+v", again)
	}
	if n.see("b", at(14)).Binding("a", at(16), ld) {
		t.Fatal("the same value seen again kept it binding past lease-duration")
	}
	c := n.see("c", at(20))
	if !c.Since.Equal(at(20)) || !c.Binding("a", at(34), ld) || c.Binding("a", at(35), ld) {
		t.Fatalf("another value: %+v", c)
	}
	// To nobody and back: bound again for lease-duration from the return.
	back := n.see("", at(20)).see("b", at(30))
	if !back.Since.Equal(at(30)) || !back.Binding("a", at(44), ld) || back.Binding("a", at(45), ld) {
		t.Fatalf("to nobody and back: %+v", back)
	}
}

func TestNominationChange(t *testing.T) {
	for _, c := range []struct {
		previous, next string
		leading        bool
		want           nominationAction
	}{
		{"", "", false, nominationSame},
		{"b", "b", true, nominationSame},
		{"", "b", false, nominationWait},
		{"", "b", true, nominationHandOver},
		{"b", "c", false, nominationWait},
		{"b", "c", true, nominationHandOver},
		{"b", "", false, nominationTry},
		{"b", "a", false, nominationTry}, // us
		{"", "a", true, nominationTry},   // us, while leading: nothing to hand over
		{"a", "", true, nominationTry},
	} {
		previous := Nomination{Nominee: c.previous, Since: at(0)}
		next, got := nominationChange(previous, c.next, "a", c.leading, at(5), ld)
		if got != c.want {
			t.Errorf("%q -> %q (leading %v): got %v, want %v", c.previous, c.next, c.leading, got, c.want)
		}
		if want := map[bool]time.Time{true: at(0), false: at(5)}[c.previous == c.next]; !next.Since.Equal(want) ||
			next.Nominee != c.next {
			t.Errorf("%q -> %q: kept %+v", c.previous, c.next, next)
		}
	}
	if nominatesOther("", "a") || nominatesOther("a", "a") || !nominatesOther("b", "a") {
		t.Error("nominatesOther")
	}
	if nominationVerb(nominationHandOver) != "handing over" || nominationVerb(nominationWait) != "waiting" {
		t.Error("nominationVerb")
	}
}

func TestALeaderHandsOverOnlyWhileBinding(t *testing.T) {
	stale := Nomination{Nominee: "b", Since: at(0)}
	// Seen again after it went stale: the same value, nothing to do (and it does not bind).
	if next, got := nominationChange(stale, "b", "a", true, at(20), ld); got != nominationSame || next.Binding("a", at(20), ld) {
		t.Fatalf("a stale nomination seen again while leading: %v, binding %v", got, next.Binding("a", at(20), ld))
	}
	// A new value binds at once: hand over.
	if _, got := nominationChange(stale, "c", "a", true, at(20), ld); got != nominationHandOver {
		t.Fatalf("a new nomination while leading: %v", got)
	}
	// Nobody and then the stale value again: it binds anew.
	cleared, _ := nominationChange(stale, "", "a", true, at(20), ld)
	if _, got := nominationChange(cleared, "b", "a", true, at(21), ld); got != nominationHandOver {
		t.Fatalf("to nobody and back while leading: %v", got)
	}
}

func TestYieldUntil(t *testing.T) {
	n := Nomination{Nominee: "b", Since: at(0)}
	if got := yieldUntil(n, at(2), ld); !got.Equal(at(2)) {
		t.Errorf("polling before it stops binding: %v", got)
	}
	if got := yieldUntil(n, at(17), ld); !got.Equal(at(15)) {
		t.Errorf("woken when it stops binding: %v", got)
	}
}

func TestEarlierSIGKILL(t *testing.T) {
	if got := earlier(time.Time{}, at(3)); !got.Equal(at(3)) {
		t.Errorf("none pending: got %v", got)
	}
	if got := earlier(at(2), at(3)); !got.Equal(at(2)) {
		t.Errorf("an earlier one pending stays: got %v", got)
	}
	if got := earlier(at(5), at(3)); !got.Equal(at(3)) {
		t.Errorf("a later one pending is brought forward: got %v", got)
	}
}

// ---- the elector's side, on client-go's fake Lease client ---------------------------------------

func releasedLease(nominee string) *coordinationv1.Lease {
	lease := &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: "pool", Namespace: "ns", ResourceVersion: "1"}}
	if nominee != "" {
		lease.Annotations = map[string]string{annotationNominee: nominee}
	}
	writeRecord(lease, Record{LeaseDurationSeconds: 1, Transitions: 3})
	return lease
}

func fakeElector(t *testing.T, lease *coordinationv1.Lease, pool bool) (*Elector, coordinationclient.LeaseInterface) {
	t.Helper()
	scheme := runtime.NewScheme()
	if err := coordinationv1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	tracker := k8stesting.NewObjectTracker(scheme, serializer.NewCodecFactory(scheme).UniversalDecoder())
	if err := tracker.Add(lease); err != nil {
		t.Fatal(err)
	}
	fake := &k8stesting.Fake{}
	fake.AddReactor("update", "leases", conditionalUpdates(tracker))
	fake.AddReactor("*", "*", k8stesting.ObjectReaction(tracker))
	leases := (&fakecoordination.FakeCoordinationV1{Fake: fake}).Leases("ns")
	return newElector(leases, "ns", "pool", "a", Timing{LeaseDuration: 15, RenewDeadline: 10, RetryPeriod: 2}, pool), leases
}

// conditionalUpdates gives the fake what the apiserver does and the tracker does not: an update is
// refused (409) unless it carries the stored resourceVersion, and every write bumps it.
func conditionalUpdates(tracker k8stesting.ObjectTracker) k8stesting.ReactionFunc {
	gvr := coordinationv1.SchemeGroupVersion.WithResource("leases")
	return func(action k8stesting.Action) (bool, runtime.Object, error) {
		lease := action.(k8stesting.UpdateAction).GetObject().(*coordinationv1.Lease).DeepCopy()
		current, err := tracker.Get(gvr, lease.Namespace, lease.Name)
		if err != nil {
			return true, nil, err
		}
		version := current.(*coordinationv1.Lease).ResourceVersion
		if lease.ResourceVersion != version {
			return true, nil, apierrors.NewConflict(gvr.GroupResource(), lease.Name, errors.New("stale resourceVersion"))
		}
		n, _ := strconv.Atoi(version)
		lease.ResourceVersion = strconv.Itoa(n + 1)
		if err := tracker.Update(gvr, lease, lease.Namespace); err != nil {
			return true, nil, err
		}
		written, err := tracker.Get(gvr, lease.Namespace, lease.Name)
		return true, written, err
	}
}

func stored(t *testing.T, leases coordinationclient.LeaseInterface) *coordinationv1.Lease {
	t.Helper()
	lease, err := leases.Get(context.Background(), "pool", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return lease
}

// nominate writes a nomination on the stored Lease, as the pools controller does, and lets the
// elector observe it (as its watch would).
func nominate(t *testing.T, e *Elector, leases coordinationclient.LeaseInterface, nominee string) {
	t.Helper()
	lease := stored(t, leases)
	lease.Annotations = map[string]string{annotationNominee: nominee}
	if _, err := leases.Update(context.Background(), lease, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.get(context.Background(), time.Second); err != nil {
		t.Fatal(err)
	}
}

func hinted(e *Elector) bool {
	select {
	case <-e.free:
		return true
	default:
		return false
	}
}

func TestCandidateWaitsWhileAnotherPodIsNominated(t *testing.T) {
	e, leases := fakeElector(t, releasedLease("b"), true)
	tenure, yielded, err := e.tryAcquire()
	if tenure != nil || !yielded || err != nil {
		t.Fatalf("a free Lease nominating b: got %v %v %v, want to yield", tenure, yielded, err)
	}
	if holder := recordOf(stored(t, leases)).Holder; holder != "" {
		t.Fatalf("written while yielding: holder %q", holder)
	}
	if hinted(e) {
		t.Fatal("a free Lease nominating another pod must not wake the candidate (it would spin)")
	}
	nominate(t, e, leases, "a")
	if !hinted(e) {
		t.Fatal("a nomination of us must wake the candidate")
	}
	tenure, yielded, err = e.tryAcquire()
	if tenure == nil || yielded || err != nil {
		t.Fatalf("nominated: got %v %v %v, want a tenure", tenure, yielded, err)
	}
	defer e.Release(tenure)
	if r := recordOf(stored(t, leases)); r.Holder != "a" || r.Transitions != 4 || tenure.HandingOver() {
		t.Fatalf("after acquiring: %+v, handing over %v", r, tenure.HandingOver())
	}
}

func TestWithoutPoolTheNominationIsIgnored(t *testing.T) {
	e, leases := fakeElector(t, releasedLease("b"), false)
	tenure, yielded, err := e.tryAcquire()
	if tenure == nil || yielded || err != nil {
		t.Fatalf("--lease: got %v %v %v, want a tenure", tenure, yielded, err)
	}
	defer e.Release(tenure)
	nominate(t, e, leases, "b")
	if tenure.HandingOver() {
		t.Fatal("--lease: handing over")
	}
}

func TestLeaderHandsOverWithoutEndingItsTenure(t *testing.T) {
	e, leases := fakeElector(t, releasedLease(""), true)
	tenure, _, err := e.tryAcquire()
	if tenure == nil || err != nil {
		t.Fatalf("got %v %v", tenure, err)
	}
	nominate(t, e, leases, "a") // us: nothing to do
	if tenure.HandingOver() {
		t.Fatal("handing over to ourselves")
	}
	nominate(t, e, leases, "b")
	select {
	case <-tenure.Handover():
	default:
		t.Fatal("no handover")
	}
	if tenure.Nominee() != "b" || !tenure.Valid() || tenure.Reason() != "" {
		t.Fatalf("handing over to %q: valid %v, reason %q", tenure.Nominee(), tenure.Valid(), tenure.Reason())
	}
	if !e.Release(tenure) {
		t.Fatal("not released")
	}
	lease := stored(t, leases)
	if r := recordOf(lease); r.Holder != "" || r.Transitions != 4 || nominationOf(lease) != "b" {
		t.Fatalf("after the release: %+v, nominating %q", r, nominationOf(lease))
	}
	if tenure, yielded, _ := e.tryAcquire(); tenure != nil || !yielded {
		t.Fatal("took the Lease back while another pod is nominated")
	}
}

func TestANominationSeenBeforeTheTenureBeganHandsOver(t *testing.T) {
	e, leases := fakeElector(t, releasedLease(""), true)
	e.mu.Lock()
	e.nomination = Nomination{Nominee: "b", Since: time.Now()} // the watch's event came after our read, before our write's answer
	e.mu.Unlock()
	tenure := e.beginTenure(stored(t, leases), time.Now())
	defer e.Release(tenure)
	if tenure.Nominee() != "b" {
		t.Fatal("no handover")
	}
}

// ago makes the nomination the elector observed first seen d ago (as if it had waited that long).
func ago(e *Elector, d time.Duration) {
	e.mu.Lock()
	e.nomination.Since = time.Now().Add(-d)
	e.mu.Unlock()
}

func TestCandidateCampaignsOnceTheNominationIsStale(t *testing.T) {
	e, leases := fakeElector(t, releasedLease("b"), true)
	if tenure, yielded, _ := e.tryAcquire(); tenure != nil || !yielded {
		t.Fatal("a fresh nomination of b: did not yield")
	}
	ago(e, 14*time.Second)
	if tenure, yielded, _ := e.tryAcquire(); tenure != nil || !yielded {
		t.Fatal("within lease-duration: did not yield")
	}
	ago(e, 15*time.Second)
	nominate(t, e, leases, "b") // the controller writes it again: the clock goes on
	tenure, yielded, err := e.tryAcquire()
	if tenure == nil || yielded || err != nil {
		t.Fatalf("a stale nomination of b: got %v %v %v, want a tenure", tenure, yielded, err)
	}
	defer e.Release(tenure)
	if tenure.HandingOver() {
		t.Fatal("handing over to a stale nominee")
	}
	if !e.staleSaid {
		t.Fatal("the stale nomination was not logged")
	}
	nominate(t, e, leases, "b") // seen again while leading: ignored
	if tenure.HandingOver() {
		t.Fatal("a stale nomination seen again made the leader hand over")
	}
	nominate(t, e, leases, "")
	nominate(t, e, leases, "b") // changed and back: binding again
	if tenure.Nominee() != "b" {
		t.Fatal("a nomination that binds again did not hand over")
	}
}

func TestAFreeLeaseWithAStaleNominationIsAHint(t *testing.T) {
	e, leases := fakeElector(t, releasedLease("b"), true)
	if _, err := e.get(context.Background(), time.Second); err != nil {
		t.Fatal(err)
	}
	if hinted(e) {
		t.Fatal("a binding nomination of another pod woke the candidate")
	}
	ago(e, 15*time.Second)
	e.observeLease(stored(t, leases), time.Now())
	if !hinted(e) {
		t.Fatal("a free Lease with a stale nomination did not wake the candidate")
	}
}

func TestATenureBegunUnderAStaleNominationGoesOn(t *testing.T) {
	e, leases := fakeElector(t, releasedLease("b"), true)
	e.mu.Lock()
	e.nomination = Nomination{Nominee: "b", Since: time.Now().Add(-15 * time.Second)}
	e.mu.Unlock()
	tenure := e.beginTenure(stored(t, leases), time.Now())
	defer e.Release(tenure)
	if tenure.HandingOver() {
		t.Fatal("handing over to a stale nominee")
	}
}

func TestAcquireWakesWhenTheNominationStopsBinding(t *testing.T) {
	e, _ := fakeElector(t, releasedLease("b"), true)
	// A retry period far past lease-duration: only the end of the binding wakes it in time.
	e.timing = Timing{LeaseDuration: 1, RenewDeadline: 0.6, RetryPeriod: 30}
	began := time.Now()
	tenure, err := e.Acquire(context.Background(), began.Add(5*time.Second))
	if err != nil {
		t.Fatalf("not leading: %v", err)
	}
	defer e.Release(tenure)
	if took := time.Since(began); took < 900*time.Millisecond || took > 3*time.Second {
		t.Fatalf("took %v, want about lease-duration (1s)", took)
	}
}
