package main

import (
	"testing"
	"time"
)

var t0 = time.Now()

func at(s float64) time.Time { return t0.Add(seconds(s)) }

func held(holder string, transitions int32) Record {
	return Record{Holder: holder, LeaseDurationSeconds: 15, AcquireTime: "a", RenewTime: "r", Transitions: transitions}
}

func TestPlanAcquire(t *testing.T) {
	other := &Observation{Record: held("other", 4), ResourceVersion: "7", ObservedAt: at(0)}
	for _, c := range []struct {
		name string
		obs  *Observation
		now  time.Time
		min  int32
		want Plan
	}{
		{"no lease: create at 0", nil, at(0), 0, Plan{Kind: PlanCreate}},
		{"re-created lease: no old tokens again", nil, at(0), 5, Plan{Kind: PlanCreate, Transitions: 5}},
		{"held, not expired by our clock", other, at(14.9), 5, Plan{Kind: PlanWait, Holder: "other", Until: at(15)}},
		{"held, expired by our clock", other, at(15), 5, Plan{Kind: PlanUpdate, Transitions: 5, ResourceVersion: "7"}},
		{"free", &Observation{Record: Record{LeaseDurationSeconds: 1, Transitions: 4}, ResourceVersion: "8", ObservedAt: at(0)},
			at(0), 5, Plan{Kind: PlanUpdate, Transitions: 5, ResourceVersion: "8"}},
		{"ours from an earlier tenure: a new tenure", &Observation{Record: held("me", 4), ResourceVersion: "9", ObservedAt: at(0)},
			at(0), 5, Plan{Kind: PlanUpdate, Transitions: 5, ResourceVersion: "9"}},
		{"lower than seen before", &Observation{Record: Record{Transitions: 1}, ResourceVersion: "9", ObservedAt: at(0)},
			at(0), 8, Plan{Kind: PlanUpdate, Transitions: 8, ResourceVersion: "9"}},
	} {
		if got := planAcquire(c.obs, "me", c.now, c.min); got != c.want {
			t.Errorf("%s: got %+v, want %+v", c.name, got, c.want)
		}
	}
}

func TestObserveRestartsTheClockOnlyWhenTheRecordChanges(t *testing.T) {
	first := observe(nil, held("other", 1), "1", at(0))
	same := observe(first, held("other", 1), "2", at(5)) // an annotation edit: new version, same record
	if !same.ObservedAt.Equal(at(0)) || same.ResourceVersion != "2" {
		t.Fatalf("clock restarted on a metadata change: %+v", same)
	}
	renewed := held("other", 1)
	renewed.RenewTime = "r2"
	changed := observe(same, renewed, "3", at(6))
	if !changed.ObservedAt.Equal(at(6)) {
		t.Fatalf("clock not restarted on a renewal: %+v", changed)
	}
	if changed.expired(at(20.9)) || !changed.expired(at(21)) {
		t.Fatal("expiry is first-seen + leaseDurationSeconds")
	}
}

func TestNextTryAt(t *testing.T) {
	obs := &Observation{Record: held("other", 1), ObservedAt: at(0)}
	if got := nextTryAt(obs, at(14), 2*time.Second, false); !got.Equal(at(15)) {
		t.Errorf("wakes when the lease runs out: %v", got.Sub(t0))
	}
	if got := nextTryAt(obs, at(10), 2*time.Second, false); !got.Equal(at(12)) {
		t.Errorf("after the delay: %v", got.Sub(t0))
	}
	if got := nextTryAt(obs, at(30), 2*time.Second, true); !got.Equal(at(32)) {
		t.Errorf("after a failed try always the delay: %v", got.Sub(t0))
	}
	if got := nextTryAt(obs, at(30), 2*time.Second, false); !got.Equal(at(30)) {
		t.Errorf("long expired: at once: %v", got.Sub(t0))
	}
}

func TestKillAt(t *testing.T) {
	grace := seconds(0.5)
	if got := killAt(at(10), at(10.2), grace); !got.Equal(at(10.5)) {
		t.Errorf("never later than deadline + grace: %v", got.Sub(t0))
	}
	if got := killAt(at(10), at(4), grace); !got.Equal(at(4.5)) {
		t.Errorf("taken over before the deadline: grace from the detection: %v", got.Sub(t0))
	}
}

func TestStillOursAndSupersedes(t *testing.T) {
	if !stillOurs(held("me", 3), "me", 3) || stillOurs(held("me", 4), "me", 3) || stillOurs(held("x", 3), "me", 3) {
		t.Error("stillOurs")
	}
	if !supersedes(held("x", 4), 3) || supersedes(held("x", 3), 3) {
		t.Error("supersedes")
	}
	if !isOlder("9", "10") || isOlder("10", "9") || isOlder("a", "9") {
		t.Error("isOlder")
	}
}

func TestReleasedRecord(t *testing.T) {
	got := releasedRecord(held("me", 3), "s")
	if got != (Record{LeaseDurationSeconds: 1, AcquireTime: "s", RenewTime: "s", Transitions: 3}) {
		t.Errorf("%+v", got)
	}
}

func TestWallStampIsMicroTime(t *testing.T) {
	_, stamp := wallStamp(time.Date(2024, 5, 1, 12, 0, 0, 0, time.FixedZone("x", 3600)))
	if stamp != "2024-05-01T11:00:00.000000Z" {
		t.Errorf("%q", stamp)
	}
	lease := newLeaseForTest()
	writeRecord(lease, Record{Holder: "me", LeaseDurationSeconds: 15, AcquireTime: stamp, RenewTime: stamp, Transitions: 2})
	if recordOf(lease) != (Record{"me", 15, stamp, stamp, 2}) {
		t.Errorf("round trip: %+v", recordOf(lease))
	}
}

func TestJittered(t *testing.T) {
	if jittered(2*time.Second, 1.2, 0) != 2*time.Second || jittered(2*time.Second, 1.2, 0.5) != 3200*time.Millisecond {
		t.Error("jittered")
	}
}
