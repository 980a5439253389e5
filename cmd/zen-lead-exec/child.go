package main

// The program the wrapper runs: in a process group of its own (so signals reach the workers it
// forks), tied to the wrapper's life, signalled as a group.
//
// Tied to the wrapper: the child asks the kernel (PR_SET_PDEATHSIG) to be SIGKILLed when its parent
// dies, so a SIGKILLed wrapper (OOM, kill -9, a node agent) does not leave a leader-only program
// running without a lease. The kernel ties that signal to the THREAD that forked, not the process,
// and Go moves goroutines between threads and ends idle ones: the child is therefore started from a
// goroutine locked to its OS thread, which stays blocked in wait4 for the child's whole life. The
// kernel does this for the direct child only; grandchildren are reached by the group signals.

import (
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"syscall"
)

const (
	exitCannotExecute = 126
	exitNotFound      = 127
)

// Child is one run of the program.
type Child struct {
	Pid  int
	done chan int // the wait status' exit code (exitCode), once
}

// startChild starts argv with env, stdin/stdout/stderr inherited.
func startChild(argv, env []string) (*Child, error) {
	started := make(chan error, 1)
	c := &Child{done: make(chan int, 1)}
	go func() {
		// Never unlocked: when this goroutine returns, its thread ends with it, and by then the
		// child has been reaped, so its parent-death signal has nobody left to hit.
		runtime.LockOSThread()
		cmd := exec.Command(argv[0], argv[1:]...)
		cmd.Env = env
		cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		c.Pid = cmd.Process.Pid
		started <- nil
		_ = cmd.Wait() // a non-zero exit is an *ExitError; the state says it all
		c.done <- exitCode(cmd.ProcessState.Sys().(syscall.WaitStatus))
	}()
	if err := <-started; err != nil {
		return nil, err
	}
	return c, nil
}

// Done delivers the child's exit code (exitCode) once it has been reaped.
func (c *Child) Done() <-chan int { return c.done }

// Signal sends sig to the child's process group (its workers too); nothing if it is gone.
func (c *Child) Signal(sig syscall.Signal) {
	_ = syscall.Kill(-c.Pid, sig) // ESRCH: the group is empty
}

// KillGroup SIGKILLs what is left of the group once the child itself is gone: workers it forked
// must not go on without a lease. The group's id stays reserved while any member lives, so this
// cannot hit an unrelated process.
func (c *Child) KillGroup() { c.Signal(syscall.SIGKILL) }

// exitCode maps a wait status the way a shell does: the exit status, or 128 + the signal that
// killed it.
func exitCode(status syscall.WaitStatus) int {
	if status.Signaled() {
		return 128 + int(status.Signal())
	}
	return status.ExitStatus()
}

// startFailureCode is the exit code for a program that could not be started, as a shell says it:
// 127 when it does not exist, 126 when it exists but cannot be executed.
func startFailureCode(err error) int {
	if errors.Is(err, exec.ErrNotFound) || errors.Is(err, fs.ErrNotExist) {
		return exitNotFound
	}
	return exitCannotExecute
}

// signalledExit is the exit code of a wrapper stopped by signal sig before its child ran.
func signalledExit(sig syscall.Signal) int { return 128 + int(sig) }

// childEnv is the wrapper's environment plus who leads which Lease with which token. A
// ZEN_LEAD_SLOT inherited from outside is dropped when no slot is set: the child must not believe
// in a slot the wrapper does not guard.
func childEnv(base []string, namespace, name, identity string, token int32, slot string, hasSlot bool) []string {
	set := map[string]string{
		"ZEN_LEAD_LEASE":         namespace + "/" + name,
		"ZEN_LEAD_IDENTITY":      identity,
		"ZEN_LEAD_TOKEN":         strconv.Itoa(int(token)),
		"ZEN_LEAD_TERM":          strconv.Itoa(int(token)),
		"ZEN_LEAD_FENCING_TOKEN": namespace + "/" + name + "#" + strconv.Itoa(int(token)),
	}
	if hasSlot {
		set["ZEN_LEAD_SLOT"] = slot
	}
	env := make([]string, 0, len(base)+len(set))
	for _, kv := range base {
		key, _, _ := strings.Cut(kv, "=")
		if _, ours := set[key]; ours || key == "ZEN_LEAD_SLOT" {
			continue
		}
		env = append(env, kv)
	}
	for _, key := range []string{"ZEN_LEAD_LEASE", "ZEN_LEAD_IDENTITY", "ZEN_LEAD_TOKEN", "ZEN_LEAD_TERM",
		"ZEN_LEAD_FENCING_TOKEN", "ZEN_LEAD_SLOT"} {
		if value, ok := set[key]; ok {
			env = append(env, key+"="+value)
		}
	}
	return env
}
