package main

import (
	"context"
	"fmt"
	"math"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// A system under test: subscriber streams, a way to change what they are told, and an independent
// watcher of the stored change (an apiserver watch on the Lease; an etcd watch on the election).
type system interface {
	// open starts n subscriber streams; each calls seen(i, value) for every state it is sent (the
	// holder's identity; the leader's value). The first state is the current one.
	open(ctx context.Context, n int, seen func(i int, value string)) (errors func() []string, err error)
	// change makes round k's change, after which the leader's value is "round-k", and returns when
	// it was written and when the independent watcher saw it.
	change(ctx context.Context, mode string, k int) (written, observed time.Time, err error)
	close()
}

func roundValue(k int) string { return "round-" + strconv.Itoa(k) }

func roundOf(value string) (int, bool) {
	rest, ok := strings.CutPrefix(value, "round-")
	if !ok {
		return 0, false
	}
	k, err := strconv.Atoi(rest)
	return k, err == nil
}

// board records, per round, when each subscriber was first told that round's value.
type board struct {
	n        int
	base     time.Time
	arrivals [][]atomic.Int64 // [round][subscriber]: nanoseconds since base, 0 = not yet
	counts   []atomic.Int32
	done     []chan struct{}
}

func newBoard(n, rounds int) *board {
	b := &board{n: n, base: time.Now(), arrivals: make([][]atomic.Int64, rounds),
		counts: make([]atomic.Int32, rounds), done: make([]chan struct{}, rounds)}
	for k := range rounds {
		b.arrivals[k] = make([]atomic.Int64, n)
		b.done[k] = make(chan struct{})
	}
	return b
}

func (b *board) seen(i int, value string) {
	k, ok := roundOf(value)
	if !ok || k >= len(b.arrivals) {
		return
	}
	at := max(int64(time.Since(b.base)), 1)
	if b.arrivals[k][i].CompareAndSwap(0, at) && b.counts[k].Add(1) == int32(b.n) {
		close(b.done[k])
	}
}

func (b *board) wait(k int, timeout time.Duration) {
	select {
	case <-b.done[k]:
	case <-time.After(timeout):
	}
}

// delays of round k's arrivals after t (seconds), and how many never arrived.
func (b *board) delays(k int, t time.Time) ([]float64, int) {
	from := t.Sub(b.base)
	var out []float64
	missing := 0
	for i := range b.arrivals[k] {
		at := b.arrivals[k][i].Load()
		if at == 0 {
			missing++
			continue
		}
		out = append(out, (time.Duration(at) - from).Seconds())
	}
	sort.Float64s(out)
	return out, missing
}

// percentile of sorted samples, interpolating between closest ranks (as bench.stats does).
func percentile(sorted []float64, q float64) float64 {
	if len(sorted) == 0 {
		return math.NaN()
	}
	rank := float64(len(sorted)-1) * q / 100
	low := int(math.Floor(rank))
	high := min(low+1, len(sorted)-1)
	return sorted[low] + (sorted[high]-sorted[low])*(rank-float64(low))
}

// num is a float64 whose NaN (no sample) is JSON null.
type num float64

func (n num) MarshalJSON() ([]byte, error) {
	if math.IsNaN(float64(n)) || math.IsInf(float64(n), 0) {
		return []byte("null"), nil
	}
	return []byte(strconv.FormatFloat(float64(n), 'g', -1, 64)), nil
}

type roundResult struct {
	Round          int     `json:"round"`
	WriteToWatcher num     `json:"write_to_watcher"` // the write's start to the independent watcher's event
	First          num     `json:"first"`            // watcher's event to the first subscriber told
	P50            num     `json:"p50"`
	P99            num     `json:"p99"`
	Last           num     `json:"last"` // ... to the last subscriber told: the measure
	Missing        int     `json:"missing"`
	CPUSeconds     float64 `json:"server_cpu_seconds"`
}

type modeResult struct {
	Rounds []roundResult `json:"rounds"`
	// A round in which some subscriber was never told (within --round-timeout) ends the mode: the
	// server stalled, and later rounds would only wait out the timeout again. 0: none did.
	StalledAtRound int `json:"stalled_at_round"`
	// Every subscriber's delay in every round, as percentiles 0..100 (the CDF of the plot).
	PooledPercentiles []num `json:"pooled_percentiles"`
}

type fanoutResult struct {
	System            string                 `json:"system"`
	Subscribers       int                    `json:"subscribers"`
	Channels          int                    `json:"channels"`
	SubscribeSeconds  float64                `json:"subscribe_seconds"` // all streams opened and told the state
	SubscribedCount   int                    `json:"subscribed"`
	StreamErrors      []string               `json:"stream_errors"`
	RSSBeforeBytes    int64                  `json:"rss_before_bytes"`
	RSSAfterBytes     int64                  `json:"rss_after_bytes"`
	RSSPerSubscriber  float64                `json:"rss_per_subscriber_bytes"`
	SubscribeCPU      float64                `json:"subscribe_server_cpu_seconds"`
	Modes             map[string]*modeResult `json:"modes"`
	ModeOrder         []string               `json:"mode_order"`
	DriverRSSAfter    int64                  `json:"driver_rss_after_bytes"`
	RoundsPerMode     int                    `json:"rounds_per_mode"`
	RoundTimeoutSecs  float64                `json:"round_timeout_seconds"`
	RoundPauseSeconds float64                `json:"round_pause_seconds"`
}

func runFanout(o *options) (*fanoutResult, error) {
	var sys system
	var modes []string
	var err error
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	switch o.system {
	case "zen":
		sys, err = newZenSystem(ctx, o)
		modes = []string{"holder"}
	case "etcd":
		sys, err = newEtcdSystem(ctx, o)
		modes = strings.Split(o.modes, ",")
		if o.modes == "" {
			modes = []string{"proclaim", "handoff"}
		}
	default:
		return nil, fmt.Errorf("--system: %q is not zen or etcd", o.system)
	}
	if err != nil {
		return nil, err
	}
	defer sys.close()
	result := &fanoutResult{System: o.system, Subscribers: o.subscribers, Channels: o.channels,
		Modes: map[string]*modeResult{}, ModeOrder: modes, RoundsPerMode: o.rounds,
		RoundTimeoutSecs: o.roundTimeout.Seconds(), RoundPauseSeconds: o.pause.Seconds()}
	b := newBoard(o.subscribers, 1+o.rounds*len(modes))

	time.Sleep(o.settle)
	result.RSSBeforeBytes = rssBytes(o.serverPID)
	cpu := cpuSeconds(o.serverPID)
	opened := time.Now()
	streamErrors, err := sys.open(ctx, o.subscribers, b.seen)
	if err != nil {
		return nil, err
	}
	b.wait(0, 120*time.Second)
	result.SubscribeSeconds = time.Since(opened).Seconds()
	result.SubscribeCPU = cpuSeconds(o.serverPID) - cpu
	result.SubscribedCount = int(b.counts[0].Load())
	time.Sleep(o.settle)
	result.RSSAfterBytes = rssBytes(o.serverPID)
	result.RSSPerSubscriber = float64(result.RSSAfterBytes-result.RSSBeforeBytes) / float64(o.subscribers)

	k := 0
	for _, mode := range modes {
		measured := &modeResult{}
		var pooled []float64
		for range o.rounds {
			k++
			cpu := cpuSeconds(o.serverPID)
			written, observed, err := sys.change(ctx, mode, k)
			if err != nil {
				return nil, fmt.Errorf("%s round %d: %w", mode, k, err)
			}
			b.wait(k, o.roundTimeout)
			delays, missing := b.delays(k, observed)
			pooled = append(pooled, delays...)
			round := roundResult{Round: k, WriteToWatcher: num(observed.Sub(written).Seconds()), Missing: missing,
				First: num(percentile(delays, 0)), P50: num(percentile(delays, 50)), P99: num(percentile(delays, 99)),
				Last: num(percentile(delays, 100)), CPUSeconds: cpuSeconds(o.serverPID) - cpu}
			if missing > 0 { // the last subscriber was never told: there is no "last" time
				round.Last = num(math.NaN())
			}
			measured.Rounds = append(measured.Rounds, round)
			if missing > 0 {
				measured.StalledAtRound = k
				k += o.rounds - len(measured.Rounds) // the values of the rounds not run stay unused
				break
			}
			time.Sleep(o.pause)
		}
		sort.Float64s(pooled)
		for q := 0; q <= 100; q++ {
			measured.PooledPercentiles = append(measured.PooledPercentiles, num(percentile(pooled, float64(q))))
		}
		result.Modes[mode] = measured
	}
	result.StreamErrors = streamErrors()
	result.DriverRSSAfter = rssBytes(os.Getpid())
	return result, nil
}

// expectations: the independent watcher's stamps, handed to whoever registered for a key first.
type expectations struct {
	mu      sync.Mutex
	pending map[string]chan time.Time
}

func newExpectations() *expectations {
	return &expectations{pending: map[string]chan time.Time{}}
}

func (e *expectations) expect(key string) <-chan time.Time {
	e.mu.Lock()
	defer e.mu.Unlock()
	ch := make(chan time.Time, 1)
	e.pending[key] = ch
	return ch
}

func (e *expectations) saw(key string, at time.Time) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if ch, ok := e.pending[key]; ok {
		ch <- at
		delete(e.pending, key)
	}
}

func await(ctx context.Context, ch <-chan time.Time, what string) (time.Time, error) {
	select {
	case at := <-ch:
		return at, nil
	case <-time.After(30 * time.Second):
		return time.Time{}, fmt.Errorf("the independent watcher never saw %s", what)
	case <-ctx.Done():
		return time.Time{}, ctx.Err()
	}
}

// streamErrs collects the first few stream errors (a stream ending early is a finding, not a crash).
type streamErrs struct {
	mu    sync.Mutex
	count int
	first []string
}

func (s *streamErrs) add(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.count++
	if len(s.first) < 5 {
		s.first = append(s.first, err.Error())
	}
}

func (s *streamErrs) list() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.count > len(s.first) {
		return append(append([]string{}, s.first...), fmt.Sprintf("... %d in all", s.count))
	}
	return append([]string{}, s.first...)
}
