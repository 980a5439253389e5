package zenlead

import (
	"math"
	"net"
	"strings"
	"time"

	"zen-lead.io/client/zenleadv1"
)

// The pure parts: values, proto conversion, the lock's timing and loss rule, backoff, the watch's term
// filter and the plaintext rule. No I/O; clocks are passed in (core_test.go tests them).

// Limits the server applies (proto: AcquireLockRequest).
const (
	TTLMin           = 2 * time.Second
	TTLMax           = 3600 * time.Second
	WaitPerCallMax   = 60 * time.Second // the server waits at most this long in one Acquire
	HolderMax        = 128
	HeartbeatDefault = 15 * time.Second
)

// Kind is what a leader is asked of; the values are the proto's zenlead.v1.Kind numbers.
type Kind int32

const (
	KindPool    Kind = Kind(zenleadv1.Kind_KIND_POOL)    // a LeaderPolicy pool
	KindService Kind = Kind(zenleadv1.Kind_KIND_SERVICE) // a Service annotated zen-lead.io/enabled
	KindLease   Kind = Kind(zenleadv1.Kind_KIND_LEASE)   // any coordination.k8s.io/v1 Lease
)

func (k Kind) String() string {
	return strings.ToLower(strings.TrimPrefix(zenleadv1.Kind(k).String(), "KIND_"))
}

// Target names a pool, a Service or a Lease. An empty Namespace is the caller's ServiceAccount namespace.
type Target struct {
	Kind      Kind
	Namespace string
	Name      string
}

// Leader is the leading pod (pools and Services), or only Identity (Leases whose holder is no pod).
type Leader struct {
	Identity string
	Pod      string
	UID      string
	PodIP    string
	Node     string
}

// State is who leads a target as one server replica saw it. Leader is nil when no one leads (then
// NoLeaderReason says why); Stale when the server's view may be out of date.
type State struct {
	Target         Target
	Exists         bool
	Leader         *Leader
	Term           int64
	Since          time.Time // zero when unknown
	NoLeaderReason string
	Stale          bool
	StaleSeconds   float64
	ServedBy       string
}

// HasLeader reports whether someone leads.
func (s State) HasLeader() bool { return s.Leader != nil }

// sameAs: the same state, whichever replica answered and however long it has been stale.
func (s State) sameAs(o State) bool {
	if s.Target != o.Target || s.Exists != o.Exists || s.Term != o.Term || !s.Since.Equal(o.Since) ||
		s.NoLeaderReason != o.NoLeaderReason || s.Stale != o.Stale || (s.Leader == nil) != (o.Leader == nil) {
		return false
	}
	return s.Leader == nil || *s.Leader == *o.Leader
}

func stateFromProto(m *zenleadv1.LeaderState) State {
	t := m.GetTarget()
	s := State{
		Target:         Target{Kind: Kind(t.GetKind()), Namespace: t.GetNamespace(), Name: t.GetName()},
		Exists:         m.GetExists(),
		Term:           m.GetTerm(),
		NoLeaderReason: m.GetNoLeaderReason(),
		Stale:          m.GetStale(),
		StaleSeconds:   m.GetStaleSeconds(),
		ServedBy:       m.GetServedBy(),
	}
	if m.GetHasLeader() {
		l := m.GetLeader()
		s.Leader = &Leader{Identity: l.GetIdentity(), Pod: l.GetPod(), UID: l.GetUid(), PodIP: l.GetPodIp(), Node: l.GetNode()}
	}
	if m.GetSince() != nil {
		s.Since = m.GetSince().AsTime()
	}
	return s
}

func targetToProto(t Target) *zenleadv1.Target {
	return &zenleadv1.Target{Kind: zenleadv1.Kind(t.Kind), Namespace: t.Namespace, Name: t.Name}
}

// timing is a lock's periods, all derived from its ttl: renew every ttl/6, lost when no renewal
// succeeded for 2/3 ttl, a keep-alive stream silent for two renewals is given up (ttl/3 left to resume).
type timing struct{ ttl time.Duration }

func newTiming(ttl time.Duration) (timing, error) {
	if ttl < TTLMin || ttl > TTLMax || ttl%time.Second != 0 {
		return timing{}, errorf("ttl must be whole seconds from %v to %v (got %v)", TTLMin, TTLMax, ttl)
	}
	return timing{ttl: ttl}, nil
}

func (t timing) renewInterval() time.Duration { return t.ttl / 6 }
func (t timing) renewDeadline() time.Duration { return t.ttl * 2 / 3 }
func (t timing) streamSilence() time.Duration { return 2 * t.renewInterval() }

// deadline tracks until when a lock may be used: renewDeadline after the START of the latest
// successful renewal. It only moves forward: a late answer to an older renewal never shortens it.
type deadline struct {
	at time.Time
}

func (d *deadline) renewed(started time.Time, t timing) {
	if next := started.Add(t.renewDeadline()); next.After(d.at) {
		d.at = next
	}
}

func (d *deadline) validAt(now time.Time) bool { return now.Before(d.at) }

// backoffDelay is the pause before retry attempt (0-based): doubling from initial up to max, then
// jittered down by up to half (draw in [0, 1)), so that clients cut off together do not return together.
func backoffDelay(attempt int, initial, max time.Duration, draw float64) time.Duration {
	base := float64(max)
	if attempt < 63 {
		base = math.Min(float64(max), float64(initial)*math.Pow(2, float64(attempt)))
	}
	return time.Duration(base * (1 - draw/2))
}

// termFilter is what a watch passes on: never a term lower than one already passed (or than the
// resume term), and not the same state twice in a row.
type termFilter struct {
	after int64
	last  *State
}

func (f *termFilter) admit(s State) bool {
	if s.Term < f.after {
		return false
	}
	if f.last != nil && f.last.sameAs(s) {
		return false
	}
	f.after = s.Term
	f.last = &s
	return true
}

// watchSilence: a watch stream that delivered nothing, not even a heartbeat, for this long is reconnected.
func watchSilence(heartbeat time.Duration) time.Duration { return 2*heartbeat + 5*time.Second }

// addressHost is the host of a gRPC target ("host:port", "[v6]:port", "dns:///host:port"); "" and
// false for a Unix socket.
func addressHost(address string) (string, bool) {
	if strings.HasPrefix(address, "unix:") || strings.HasPrefix(address, "unix-abstract:") {
		return "", false
	}
	for _, scheme := range []string{"dns:///", "dns:", "ipv4:", "ipv6:", "passthrough:///"} {
		if strings.HasPrefix(address, scheme) {
			address = strings.TrimPrefix(address, scheme)
			break
		}
	}
	if strings.HasPrefix(address, "//") { // dns://authority/host:port
		address = address[strings.LastIndex(address, "/")+1:]
	}
	if host, _, err := net.SplitHostPort(address); err == nil {
		return host, true
	}
	return strings.Trim(address, "[]"), true
}

// isLoopback reports whether the target is this machine: a Unix socket, localhost or a loopback IP.
func isLoopback(address string) bool {
	host, network := addressHost(address)
	if !network {
		return true
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
