// zen-lead-exec runs a program only while this process leads a coordination.k8s.io/v1 Lease: the
// static twin of the Python command `zen-lead exec`, for images that have no Python. An init
// container copies the binary into a shared volume; the vendor container runs
//
//	/zen/zen-lead-exec --lease NAME -- /vendor/binary args
//
// Both implementations share the Lease format, the flags, the exit codes and one cluster test suite
// (tests/cluster/exec). The life of the wrapper is a loop of tenures:
//
//	campaign ──> leading: (slot check) start the program, renew in parallel
//	   ^              │ program exits: (slot mark) release, exit with its code
//	   │              │ SIGTERM/SIGINT: forward, keep renewing until it exits, release, exit
//	   │              │ leadership lost: SIGTERM to its group now, SIGKILL grace later, reap it
//	   │              └ (--pool) another pod nominated: the same, then release
//	   └──────────────────────────────────────────────────────────────┘
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	code := run(os.Args[1:])
	flushLog(time.Second)
	os.Exit(code)
}

// run is the whole program; it returns the exit code.
func run(args []string) int {
	// Caught from the very start: a SIGTERM while we are still setting up must not kill us with
	// Go's default action (and the child is started only with these already caught).
	signals := make(chan os.Signal, 16)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP, syscall.SIGQUIT,
		syscall.SIGUSR1, syscall.SIGUSR2)
	begun := time.Now()

	cfg, err := parseArgs(args, os.Getenv, os.Stdout)
	if errors.Is(err, errHelp) {
		return 0
	}
	var usage *usageError
	if errors.As(err, &usage) {
		logf("%s", usage.msg)
		return exitUsage
	}
	clients, err := newClients(cfg.Kubeconfig)
	if err != nil {
		logf("%v", err)
		return 1
	}
	namespace := resolveNamespace(cfg.Namespace, clients)
	if cfg.Identity == "" {
		cfg.Identity = defaultIdentity()
	}
	w := &wrapper{cfg: cfg, namespace: namespace, signals: signals}
	if cfg.Timeout >= 0 {
		w.timeoutAt = begun.Add(seconds(cfg.Timeout))
	}
	if cfg.SlotFromJob != "" {
		if code, done := w.slotFromJob(clients); done {
			return code
		}
	}
	w.elector = newElector(clients.Coordination.Leases(namespace), namespace, cfg.Lease, cfg.Identity, cfg.Timing,
		cfg.Pool)
	watching, stopWatching := context.WithCancel(context.Background())
	defer stopWatching()
	go w.elector.Watch(watching)
	logf("campaigning for %s as %s", w.elector.lease(), cfg.Identity)
	return w.run()
}

// wrapper is the state of one run of the command.
type wrapper struct {
	cfg       *Config
	namespace string
	elector   *Elector
	signals   chan os.Signal
	timeoutAt time.Time      // zero: no --timeout
	stopping  syscall.Signal // the SIGTERM or SIGINT received, 0 before
}

func (w *wrapper) run() int {
	for led := false; ; led = true {
		deadline := w.timeoutAt
		if led {
			deadline = time.Time{} // --timeout bounds only the wait for the first tenure
		}
		tenure, code, done := w.campaign(deadline)
		if done {
			return code
		}
		if code, done := w.lead(tenure); done {
			return code
		}
	}
}

// slotFromJob reads the Job's slot, trying again while the API does not answer (within --timeout,
// until a stop signal). done says the wrapper is finished, with code.
func (w *wrapper) slotFromJob(clients *Clients) (int, bool) {
	for {
		ctx, cancel := context.WithTimeout(context.Background(), w.cfg.Timing.callTimeout())
		slot, err := slotOfJob(ctx, clients.Batch, w.namespace, w.cfg.SlotFromJob)
		cancel()
		var refused *jobSlotError
		switch {
		case err == nil:
			w.cfg.Slot, w.cfg.HasSlot = slot, true
			return 0, false
		case errors.As(err, &refused):
			logf("%s", refused.msg)
			return exitUsage, true
		}
		logf("could not read Job %s/%s: %v", w.namespace, w.cfg.SlotFromJob, err)
		wait := time.NewTimer(w.cfg.Timing.retryPeriod())
		var timeout <-chan time.Time
		if !w.timeoutAt.IsZero() {
			timeout = time.After(time.Until(w.timeoutAt))
		}
		select {
		case <-wait.C:
		case <-timeout:
			logf("not leading %s/%s after --timeout %ss: giving up", w.namespace, w.cfg.Lease, g(w.cfg.Timeout))
			return exitTimeout, true
		case sig := <-w.signals:
			if s := sig.(syscall.Signal); s == syscall.SIGTERM || s == syscall.SIGINT {
				logf("%s while not running the program: stopping", signalName(s))
				return signalledExit(s), true
			}
		}
		wait.Stop()
	}
}

// campaign waits until this process leads. done says the wrapper is finished instead (a stop
// signal, --timeout), with code.
func (w *wrapper) campaign(deadline time.Time) (*Tenure, int, bool) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	type result struct {
		tenure *Tenure
		err    error
	}
	results := make(chan result, 1)
	go func() {
		tenure, err := w.elector.Acquire(ctx, deadline)
		results <- result{tenure, err}
	}()
	for {
		select {
		case sig := <-w.signals:
			if s := sig.(syscall.Signal); (s == syscall.SIGTERM || s == syscall.SIGINT) && w.stopping == 0 {
				logf("%s while not running the program: stopping", signalName(s))
				w.stopping = s
				cancel()
			} // others: nothing to forward them to
		case r := <-results:
			switch {
			case r.tenure != nil && w.stopping != 0: // the try in flight when the signal came won
				w.elector.Release(r.tenure)
				return nil, signalledExit(w.stopping), true
			case r.tenure != nil:
				return r.tenure, 0, false
			case errors.Is(r.err, errTimedOut):
				logf("not leading %s after --timeout %ss: giving up", w.elector.lease(), g(w.cfg.Timeout))
				return nil, exitTimeout, true
			default:
				return nil, signalledExit(w.stopping), true
			}
		}
	}
}

// lead runs one tenure. done says the wrapper is finished, with code; else it campaigns again.
func (w *wrapper) lead(t *Tenure) (int, bool) {
	e, cfg := w.elector, w.cfg
	logf("became leader of %s as %s (token %d)", e.lease(), cfg.Identity, t.Token)
	if cfg.HasSlot {
		if code, done, lost := w.checkSlot(t); lost {
			w.lost(t)
			e.Release(t) // writes nothing: it ends what is left of the lost tenure
			return 0, false
		} else if done {
			return code, true
		}
	}
	if t.HandingOver() { // nominated away before the program started: nothing to stop
		e.Release(t)
		return 0, false
	}
	env := childEnv(os.Environ(), w.namespace, cfg.Lease, cfg.Identity, t.Token, cfg.Slot, cfg.HasSlot)
	child, err := startChild(cfg.Command, env)
	if err != nil {
		logf("cannot start %s: %v", cfg.Command[0], err)
		e.Release(t)
		return startFailureCode(err), true
	}
	logf("started %s (pid %d) with token %d", cfg.Command[0], child.Pid, t.Token)
	lostCh, handover := t.Lost(), t.Handover()
	var kill <-chan time.Time
	var killBy time.Time // when the pending SIGKILL is due (zero: none)
	lost, handing := false, false
	for {
		select {
		case sig := <-w.signals:
			s := sig.(syscall.Signal)
			logf("forwarding %s to pid %d", signalName(s), child.Pid)
			child.Signal(s)
			if s == syscall.SIGTERM || s == syscall.SIGINT {
				w.stopping = s
			}
		case <-lostCh:
			lostCh, lost = nil, true
			detected := time.Now()
			at := earlier(killBy, killAt(t.Deadline(), detected, seconds(cfg.Grace)))
			child.Signal(syscall.SIGTERM) // first: nothing may delay it
			if !at.Equal(killBy) {
				killBy, kill = at, time.After(time.Until(at))
			}
			w.lost(t)
			logf("stopping pid %d (%s): SIGTERM now, SIGKILL in %.2fs", child.Pid, t.Reason(), at.Sub(detected).Seconds())
		case <-handover:
			// Not a loss: the renewals and the deadline timer go on, and a loss meanwhile can only
			// bring the SIGKILL forward.
			handover, handing = nil, true
			if lost {
				break
			}
			began := time.Now()
			at := earlier(killBy, began.Add(seconds(cfg.Grace)))
			child.Signal(syscall.SIGTERM)
			killBy, kill = at, time.After(time.Until(at))
			logf("stopping pid %d (handing over to %s): SIGTERM now, SIGKILL in %.2fs",
				child.Pid, t.Nominee(), at.Sub(began).Seconds())
		case <-kill:
			kill = nil
			child.Signal(syscall.SIGKILL)
			logf("child %d did not exit after SIGTERM: sending SIGKILL", child.Pid)
		case code := <-child.Done():
			child.KillGroup()
			if lost || handing {
				logf("pid %d exited with %d after leadership ended", child.Pid, code)
				// Lost: writes nothing, it ends the renewals. Handing over: the released record, for
				// the nominee to take at once.
				e.Release(t)
				if w.stopping != 0 {
					return code, true
				}
				return 0, false
			}
			logf("pid %d exited with %d", child.Pid, code)
			if cfg.HasSlot && code == 0 {
				w.markSlot(t)
			}
			e.Release(t)
			return code, true
		}
	}
}

// lost reports the end of a tenure that was not released.
func (w *wrapper) lost(t *Tenure) {
	reason := t.Reason()
	if reason == "" { // the deadline passed a moment before its timer fired
		reason = w.cfg.Timing.deadlineReason()
	}
	logf("lost leadership of %s as %s (token %d): %s", w.elector.lease(), w.cfg.Identity, t.Token, reason)
}

// checkSlot: before starting the program, is the slot done already? done: the wrapper is finished
// (exit 0, released; or a stop signal). lost: the tenure ended meanwhile (campaign again, and check
// again then).
func (w *wrapper) checkSlot(t *Tenure) (code int, done, lost bool) {
	for {
		answer := make(chan error, 1)
		var isDone bool
		go func() {
			var err error
			isDone, err = slotDone(t, w.cfg.Slot)
			answer <- err
		}()
		var err error
	waiting:
		for {
			select {
			case err = <-answer:
				break waiting
			case <-t.Lost():
				<-answer
				return 0, false, true
			case sig := <-w.signals:
				if s := sig.(syscall.Signal); s == syscall.SIGTERM || s == syscall.SIGINT {
					<-answer
					logf("%s while not running the program: stopping", signalName(s))
					w.elector.Release(t)
					return signalledExit(s), true, false
				}
			}
		}
		if !t.Valid() {
			return 0, false, true
		}
		if err == nil && isDone {
			logf("slot %s of %s already done", w.cfg.Slot, w.elector.lease())
			w.elector.Release(t)
			return 0, true, false
		}
		if err == nil {
			return 0, false, false
		}
		logf("cannot read the done slots of %s: %v", w.elector.lease(), err)
		select {
		case <-time.After(w.cfg.Timing.retryPeriod()):
		case <-t.Lost():
		}
	}
}

// markSlot records the slot after the program succeeded; a failure is said, not fatal: the slot
// may then run again (at least once).
func (w *wrapper) markSlot(t *Tenure) {
	marked, err := markSlot(t, w.cfg.Slot)
	switch {
	case err != nil:
		logf("slot %s ran but could not be marked done (%v): it may run again", w.cfg.Slot, err)
	case !marked:
		logf("slot %s ran but the tenure ended before it was marked done: it may run again", w.cfg.Slot)
	}
}

func signalName(s syscall.Signal) string {
	names := map[syscall.Signal]string{
		syscall.SIGTERM: "SIGTERM", syscall.SIGINT: "SIGINT", syscall.SIGHUP: "SIGHUP",
		syscall.SIGQUIT: "SIGQUIT", syscall.SIGUSR1: "SIGUSR1", syscall.SIGUSR2: "SIGUSR2",
		syscall.SIGKILL: "SIGKILL",
	}
	if name, ok := names[s]; ok {
		return name
	}
	return fmt.Sprintf("signal %d", int(s))
}
