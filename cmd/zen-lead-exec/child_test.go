package main

import (
	"errors"
	"os/exec"
	"slices"
	"syscall"
	"testing"
	"time"
)

func runChild(t *testing.T, argv ...string) int {
	t.Helper()
	c, err := startChild(argv, []string{"PATH=/usr/bin:/bin"})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case code := <-c.Done():
		return code
	case <-time.After(10 * time.Second):
		t.Fatal("child did not exit")
		return -1
	}
}

func TestExitCodes(t *testing.T) {
	if got := runChild(t, "sh", "-c", "exit 3"); got != 3 {
		t.Errorf("exit 3: %d", got)
	}
	if got := runChild(t, "sh", "-c", "kill -9 $$"); got != 137 {
		t.Errorf("SIGKILL: %d", got)
	}
	if got := runChild(t, "sh", "-c", "kill -TERM $$"); got != 143 {
		t.Errorf("SIGTERM: %d", got)
	}
	if got := signalledExit(syscall.SIGINT); got != 130 {
		t.Errorf("signalledExit: %d", got)
	}
}

func TestStartFailures(t *testing.T) {
	_, err := startChild([]string{"/nonexistent/program"}, nil)
	if startFailureCode(err) != 127 {
		t.Errorf("missing: %v", err)
	}
	_, err = startChild([]string{"no-such-program-anywhere"}, []string{"PATH=/bin"})
	if !errors.Is(err, exec.ErrNotFound) || startFailureCode(err) != 127 {
		t.Errorf("not on PATH: %v", err)
	}
	_, err = startChild([]string{"/etc/hostname"}, nil)
	if startFailureCode(err) != 126 {
		t.Errorf("not executable: %v", err)
	}
}

func TestOwnProcessGroup(t *testing.T) {
	c, err := startChild([]string{"sleep", "5"}, []string{"PATH=/usr/bin:/bin"})
	if err != nil {
		t.Fatal(err)
	}
	pgid, err := syscall.Getpgid(c.Pid)
	if err != nil || pgid != c.Pid {
		t.Errorf("pgid %d of pid %d: %v", pgid, c.Pid, err)
	}
	c.Signal(syscall.SIGTERM)
	if code := <-c.Done(); code != 143 {
		t.Errorf("group SIGTERM: %d", code)
	}
}

func TestChildEnv(t *testing.T) {
	got := childEnv([]string{"A=1", "ZEN_LEAD_TOKEN=old", "ZEN_LEAD_SLOT=stale"}, "ns", "db", "me", 7, "", false)
	want := []string{"A=1", "ZEN_LEAD_LEASE=ns/db", "ZEN_LEAD_IDENTITY=me", "ZEN_LEAD_TOKEN=7", "ZEN_LEAD_TERM=7",
		"ZEN_LEAD_FENCING_TOKEN=ns/db#7"}
	if !slices.Equal(got, want) {
		t.Errorf("got %q", got)
	}
	got = childEnv(nil, "ns", "db", "me", 0, "s1", true)
	if got[len(got)-1] != "ZEN_LEAD_SLOT=s1" || got[2] != "ZEN_LEAD_TOKEN=0" {
		t.Errorf("got %q", got)
	}
}
