package zenlead

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

// The tests in this file run only against a real zen-lead API server (tests/cluster/api/test_go_client.py
// starts one on the embedded cluster and runs them): set ZEN_LEAD_API_ADDRESS and ZEN_LEAD_API_TOKEN
// (and ZEN_LEAD_API_CA_FILE for TLS, else plaintext to a loopback address; ZEN_LEAD_API_NAMESPACE).
// TestAgainstTheServer needs nothing more. The others need a test driving the server from outside
// (pausing it, killing a replica, writing the Lease), told by ZEN_LEAD_API_EXPECT, and talk to it
// with lines on stdout (progress is printed as "zenlead-test: <event> <value>").

func serverUnderTest(t *testing.T, expect string) (*Client, context.Context) {
	t.Helper()
	address, token := os.Getenv("ZEN_LEAD_API_ADDRESS"), os.Getenv("ZEN_LEAD_API_TOKEN")
	if address == "" || token == "" {
		t.Skip("ZEN_LEAD_API_ADDRESS and ZEN_LEAD_API_TOKEN are not set: no server to test against")
	}
	if expect != "" && os.Getenv("ZEN_LEAD_API_EXPECT") != expect {
		t.Skipf("ZEN_LEAD_API_EXPECT is not %q: no test driving the server from outside", expect)
	}
	opts := []Option{WithToken(token), WithNamespace(os.Getenv("ZEN_LEAD_API_NAMESPACE")),
		withBackoff(200*time.Millisecond, 2*time.Second)}
	if ca := os.Getenv("ZEN_LEAD_API_CA_FILE"); ca != "" {
		opts = append(opts, WithCAFile(ca))
	} else {
		opts = append(opts, WithInsecureLoopback())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	c, err := Dial(ctx, address, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c, ctx
}

func report(event string, value any) { fmt.Printf("zenlead-test: %s %v\n", event, value) }

func uniqueLockName() string {
	suffix := make([]byte, 4)
	_, _ = rand.Read(suffix)
	return "go-client-" + hex.EncodeToString(suffix)
}

// reportRenewals prints "renewed <start of the last successful renewal>" whenever it moves, until
// the returned function is called.
func reportRenewals(lock *Lock) func() {
	done, stopped := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(stopped)
		var last time.Time
		for {
			if renewed := lock.Renewed(); !renewed.Equal(last) {
				last = renewed
				report("renewed", renewed.UnixNano())
			}
			select {
			case <-done:
				return
			case <-time.After(time.Millisecond):
			}
		}
	}()
	return func() { close(done); <-stopped }
}

func waitLost(t *testing.T, lock *Lock, within time.Duration) time.Time {
	t.Helper()
	select {
	case <-lock.Lost():
		return time.Now()
	case <-time.After(within):
		t.Fatalf("not lost within %v: valid %v, last renewal %v", within, lock.Valid(), lock.Renewed())
		return time.Time{}
	}
}

// TestAgainstTheServer watches a lock's Lease, takes the lock (the watch must see the new holder
// with term = token), checks that the keep-alive keeps it past its ttl, releases it, and sees no one
// lead after. With ZEN_LEAD_API_TARGET=kind/name, that target must have a leader.
func TestAgainstTheServer(t *testing.T) {
	c, ctx := serverUnderTest(t, "")
	if spec := os.Getenv("ZEN_LEAD_API_TARGET"); spec != "" {
		kind, name, _ := strings.Cut(spec, "/")
		kinds := map[string]Kind{"pool": KindPool, "service": KindService, "lease": KindLease}
		state, err := c.Leader(ctx, Target{Kind: kinds[kind], Name: name})
		if err != nil {
			t.Fatalf("Leader(%s): %v", spec, err)
		}
		if !state.HasLeader() || state.Stale || state.ServedBy == "" {
			t.Fatalf("Leader(%s) = %+v, want a fresh answer with a leader", spec, state)
		}
	}

	lockName := uniqueLockName()
	lease := Target{Kind: KindLease, Name: lockName}
	before, err := c.Leader(ctx, lease)
	if err != nil {
		t.Fatalf("Leader(the lock's Lease): %v", err)
	}
	if before.HasLeader() {
		t.Fatalf("a fresh lock's Lease has a leader: %+v", before)
	}

	states := make(chan State, 64)
	watchCtx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	watched := make(chan error, 1)
	go func() {
		watched <- c.Watch(watchCtx, lease, func(s State) error { states <- s; return nil }, Heartbeat(time.Second))
	}()
	next := func(what string, want func(State) bool) {
		t.Helper()
		deadline := time.After(15 * time.Second)
		for {
			select {
			case s := <-states:
				if want(s) {
					return
				}
			case err := <-watched:
				t.Fatalf("Watch ended before %s: %v", what, err)
			case <-deadline:
				t.Fatalf("the watch did not see %s", what)
			}
		}
	}
	next("its snapshot", func(State) bool { return true })

	const ttl = 2 * time.Second
	acquired := time.Now()
	lock, err := c.Acquire(ctx, lockName, ttl, "go-client", 5*time.Second)
	if err != nil {
		t.Fatalf("Acquire: %v", err)
	}
	defer lock.Release(context.Background())
	if lock.Token() < before.Term {
		t.Errorf("token %d, want at least the Lease's term before (%d)", lock.Token(), before.Term)
	}
	next("the lock's holder", func(s State) bool {
		return s.HasLeader() && s.Leader.Identity == "go-client" && s.Term == lock.Token()
	})
	if _, err := c.Acquire(ctx, lockName, ttl, "someone-else", 0); !errors.Is(err, ErrNotAcquired) {
		t.Errorf("acquiring a held lock: %v, want ErrNotAcquired", err)
	}

	// kept past its ttl: valid all along, and the last renewal well after the acquire
	for time.Since(acquired) < ttl+ttl/2 {
		if !lock.Valid() {
			t.Fatalf("lost %v after the acquire: %v (last renewal %v)", time.Since(acquired), lock.Err(), lock.Renewed())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if renewedAfter := lock.Renewed().Sub(acquired); renewedAfter < ttl {
		t.Fatalf("the last renewal started %v after the acquire, want more than the ttl (%v)", renewedAfter, ttl)
	}

	released, err := lock.Release(ctx)
	if err != nil || !released {
		t.Fatalf("Release = %v, %v", released, err)
	}
	if lock.Valid() || lock.Err() != nil {
		t.Errorf("after Release: valid %v, err %v", lock.Valid(), lock.Err())
	}
	next("no one lead after the release", func(s State) bool { return !s.HasLeader() && s.NoLeaderReason == "released" })
}

// TestALockIsLostWhenTheServerStopsAnswering (ZEN_LEAD_API_EXPECT=loss): the driver pauses the server
// while the lock is held, reading the "renewed" lines; the lock must be lost 2/3 of its ttl after
// the start of its last successful renewal, and say so.
func TestALockIsLostWhenTheServerStopsAnswering(t *testing.T) {
	c, ctx := serverUnderTest(t, "loss")
	const ttl = 6 * time.Second
	lock, err := c.Acquire(ctx, uniqueLockName(), ttl, "go-client", 0)
	if err != nil {
		t.Fatalf("Acquire: %v", err)
	}
	defer lock.Release(context.Background())
	stop := reportRenewals(lock)
	lostAt := waitLost(t, lock, 30*time.Second)
	stop()
	report("lost", lock.Err())
	if lock.Valid() || !errors.Is(lock.Err(), ErrLost) {
		t.Errorf("after the loss: valid %v, err %v", lock.Valid(), lock.Err())
	}
	if after := lostAt.Sub(lock.Renewed()); after < ttl*2/3 || after > ttl*2/3+300*time.Millisecond {
		t.Errorf("lost %v after the start of the last successful renewal, want 2/3 of the ttl (%v)", after, ttl*2/3)
	}
}

// TestALockResumesOnAnotherReplica (ZEN_LEAD_API_EXPECT=failover; ZEN_LEAD_API_ADDRESS reaches two
// replicas, as a Service does): the driver kills the replica the keep-alive is on once "holding" is
// printed; the lock must stay valid, with its token, while it is renewed on the other one past its
// ttl, and a watch of its Lease must go on there and see the release.
func TestALockResumesOnAnotherReplica(t *testing.T) {
	c, ctx := serverUnderTest(t, "failover")
	const ttl = 3 * time.Second
	name := uniqueLockName()
	states := make(chan State, 64)
	go func() {
		_ = c.Watch(ctx, Target{Kind: KindLease, Name: name}, func(s State) error { states <- s; return nil }, Heartbeat(time.Second))
	}()
	lock, err := c.Acquire(ctx, name, ttl, "go-client", 0)
	if err != nil {
		t.Fatalf("Acquire: %v", err)
	}
	defer lock.Release(context.Background())
	var first State
	select {
	case first = <-states:
	case <-time.After(15 * time.Second):
		t.Fatal("no snapshot from Watch")
	}
	report("holding", lock.Name())
	killed := time.Now()
	for time.Since(killed) < ttl+ttl/2 || lock.Renewed().Sub(killed) < ttl { // past the ttl on the other
		if !lock.Valid() {
			t.Fatalf("lost %v after the replica was killed: %v", time.Since(killed), lock.Err())
		}
		if time.Since(killed) > 4*ttl {
			t.Fatalf("not renewed since the replica was killed (last renewal %v before)", killed.Sub(lock.Renewed()))
		}
		time.Sleep(20 * time.Millisecond)
	}
	token := lock.Token()
	if released, err := lock.Release(ctx); !released || err != nil {
		t.Fatalf("Release on the other replica = %v, %v", released, err)
	}
	for deadline := time.After(15 * time.Second); ; {
		select {
		case s := <-states:
			if s.HasLeader() {
				continue
			}
			if s.ServedBy == first.ServedBy || s.Term != token || s.NoLeaderReason != "released" {
				t.Fatalf("after the release, from %q: %+v (the first state from %q)", s.ServedBy, s, first.ServedBy)
			}
			return
		case <-deadline:
			t.Fatal("the watch did not see the release from the other replica")
		}
	}
}

// TestALockTakenOverIsLostAtOnceAndNotReleased (ZEN_LEAD_API_EXPECT=taken): the driver gives the
// lock's Lease to someone else, or deletes it, once "holding" is printed; the next renewal must be
// refused and the lock lost at once (not 2/3 of the ttl later), and Release must write nothing.
func TestALockTakenOverIsLostAtOnceAndNotReleased(t *testing.T) {
	c, ctx := serverUnderTest(t, "taken")
	const ttl = 12 * time.Second // renewed every 2 s: lost at the next renewal, long before 2/3 ttl (8 s)
	lock, err := c.Acquire(ctx, uniqueLockName(), ttl, "go-client", 0)
	if err != nil {
		t.Fatalf("Acquire: %v", err)
	}
	report("holding", lock.Name())
	taken := time.Now()
	lostAt := waitLost(t, lock, ttl/6+3*time.Second)
	if !errors.Is(lock.Err(), ErrLost) || !strings.Contains(lock.Err().Error(), "refused the renewal") {
		t.Errorf("lost %v after the takeover with %v", lostAt.Sub(taken), lock.Err())
	}
	if released, err := lock.Release(ctx); released || err != nil {
		t.Errorf("Release after the takeover = %v, %v: it must release nothing", released, err)
	}
}
