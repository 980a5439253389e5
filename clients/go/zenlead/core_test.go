package zenlead

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"zen-lead.io/client/zenleadv1"
)

func TestKindsAreTheProtosNumbers(t *testing.T) {
	for kind, name := range map[Kind]string{KindPool: "KIND_POOL", KindService: "KIND_SERVICE", KindLease: "KIND_LEASE"} {
		if got := zenleadv1.Kind(kind).String(); got != name {
			t.Errorf("Kind %d is %s in the proto, want %s", kind, got, name)
		}
	}
	if KindPool.String() != "pool" {
		t.Errorf("KindPool.String() = %q", KindPool.String())
	}
}

func TestStateFromProto(t *testing.T) {
	since := time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC)
	s := stateFromProto(&zenleadv1.LeaderState{
		Target: &zenleadv1.Target{Kind: zenleadv1.Kind_KIND_SERVICE, Namespace: "ns", Name: "pg"},
		Exists: true, HasLeader: true, Term: 9, Since: timestamppb.New(since), ServedBy: "r1",
		Leader: &zenleadv1.Leader{Identity: "pg-0", Pod: "pg-0", Uid: "u", PodIp: "10.0.0.3", Node: "n"},
	})
	want := Leader{Identity: "pg-0", Pod: "pg-0", UID: "u", PodIP: "10.0.0.3", Node: "n"}
	if !s.HasLeader() || *s.Leader != want || s.Term != 9 || !s.Since.Equal(since) || s.Target.Kind != KindService {
		t.Errorf("converted %+v", s)
	}
	none := stateFromProto(&zenleadv1.LeaderState{HasLeader: false, Leader: &zenleadv1.Leader{Pod: "ignored"}, NoLeaderReason: "released"})
	if none.HasLeader() || !none.Since.IsZero() || none.NoLeaderReason != "released" {
		t.Errorf("a state without a leader converted to %+v", none)
	}
}

func TestTimingFollowsTheTTL(t *testing.T) {
	for _, ttl := range []time.Duration{2 * time.Second, 30 * time.Second, time.Hour} {
		timing, err := newTiming(ttl)
		if err != nil {
			t.Fatal(err)
		}
		if timing.renewInterval() != ttl/6 || timing.renewDeadline() != ttl*2/3 {
			t.Errorf("ttl %v: interval %v, deadline %v", ttl, timing.renewInterval(), timing.renewDeadline())
		}
		if left := timing.renewDeadline() - timing.streamSilence(); left < ttl/3-time.Nanosecond || left > ttl/3+time.Nanosecond {
			t.Errorf("ttl %v: %v left to resume after a silent stream, want ttl/3", ttl, left)
		}
	}
	for _, ttl := range []time.Duration{time.Second, 3601 * time.Second, 2500 * time.Millisecond, 0} {
		if _, err := newTiming(ttl); err == nil {
			t.Errorf("ttl %v accepted", ttl)
		}
	}
}

func TestTheDeadlineCountsFromTheLatestRenewalStartAndNeverMovesBack(t *testing.T) {
	timing, _ := newTiming(30 * time.Second)
	base := time.Now()
	random := rand.New(rand.NewPCG(1, 2))
	for trial := 0; trial < 200; trial++ {
		d := deadline{}
		d.renewed(base, timing)
		starts := []time.Duration{0}
		at := time.Duration(0)
		for i := 0; i < random.IntN(20); i++ {
			at += time.Duration(random.Int64N(int64(40 * time.Second)))
			starts = append(starts, at)
		}
		latest := at
		random.Shuffle(len(starts), func(i, j int) { starts[i], starts[j] = starts[j], starts[i] })
		previous := d.at
		for _, s := range starts {
			d.renewed(base.Add(s), timing)
			if d.at.Before(previous) {
				t.Fatalf("the deadline moved back from %v to %v", previous, d.at)
			}
			previous = d.at
		}
		want := base.Add(latest + 20*time.Second)
		if !d.at.Equal(want) {
			t.Fatalf("deadline %v, want the latest start + 2/3 ttl = %v", d.at.Sub(base), want.Sub(base))
		}
		if !d.validAt(want.Add(-time.Nanosecond)) || d.validAt(want) {
			t.Fatalf("valid until exactly the deadline")
		}
	}
}

func TestBackoffDoublesToTheMaximumAndJittersDownByAtMostHalf(t *testing.T) {
	initial, maximum := 200*time.Millisecond, 10*time.Second
	for attempt := 0; attempt < 100; attempt++ {
		base := time.Duration(min(float64(maximum), float64(initial)*math.Pow(2, float64(attempt))))
		for _, draw := range []float64{0, 0.5, 0.999} {
			d := backoffDelay(attempt, initial, maximum, draw)
			if d < base/2 || d > base {
				t.Fatalf("attempt %d draw %v: %v outside [%v, %v]", attempt, draw, d, base/2, base)
			}
		}
	}
}

func state(term int64, leader string, servedBy string) State {
	s := State{Target: Target{KindPool, "ns", "p"}, Exists: true, Term: term, ServedBy: servedBy}
	if leader != "" {
		s.Leader = &Leader{Identity: leader}
	}
	return s
}

func TestTheTermFilterNeverGoesBackNorRepeats(t *testing.T) {
	random := rand.New(rand.NewPCG(3, 4))
	for trial := 0; trial < 500; trial++ {
		after := random.Int64N(5)
		f := termFilter{after: after}
		var passed []State
		for i := 0; i < 30; i++ {
			s := state(random.Int64N(8), []string{"", "a", "b"}[random.IntN(3)], []string{"r1", "r2"}[random.IntN(2)])
			floor := after
			var last *State
			if len(passed) > 0 {
				last = &passed[len(passed)-1]
				floor = last.Term
			}
			want := s.Term >= floor && (last == nil || !last.sameAs(s))
			if got := f.admit(s); got != want {
				t.Fatalf("admit(%+v) = %v after %+v", s, got, last)
			}
			if want {
				passed = append(passed, s)
			}
		}
	}
	f := termFilter{}
	if !f.admit(state(3, "a", "r1")) || f.admit(state(3, "a", "r2")) || f.admit(state(2, "b", "r1")) || !f.admit(state(3, "", "r1")) {
		t.Error("a repeated state from another replica, or a replica behind, was passed on")
	}
}

func TestLoopback(t *testing.T) {
	for address, want := range map[string]bool{
		"127.0.0.1:8443": true, "127.3.2.1:1": true, "[::1]:443": true, "localhost:50051": true,
		"dns:///localhost:1": true, "unix:/run/zen.sock": true, "passthrough:///127.0.0.1:9": true,
		"10.0.0.1:443": false, "zen-lead-api.zen-lead:8443": false, "localhost.evil.example:443": false,
		"dns://8.8.8.8/zen-lead-api:8443": false, "[2001:db8::1]:443": false,
	} {
		if got := isLoopback(address); got != want {
			t.Errorf("isLoopback(%q) = %v, want %v", address, got, want)
		}
	}
}

func TestPlaintextOffLoopbackIsRefused(t *testing.T) {
	if _, err := Dial(context.Background(), "zen-lead-api.zen-lead:8443", WithInsecureLoopback()); err == nil {
		t.Error("plaintext to a non-loopback address was allowed")
	}
}
