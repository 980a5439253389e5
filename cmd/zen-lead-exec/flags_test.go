package main

import (
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
)

func env(vars map[string]string) func(string) string {
	return func(key string) string { return vars[key] }
}

func parse(t *testing.T, args string, vars map[string]string) (*Config, error) {
	t.Helper()
	return parseArgs(strings.Fields(args), env(vars), io.Discard)
}

func TestDefaults(t *testing.T) {
	cfg, err := parse(t, "--lease db -- sh -c true", map[string]string{"KUBECONFIG": "/k"})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Lease != "db" || cfg.Identity != "" || cfg.Kubeconfig != "/k" || cfg.Timeout != -1 || cfg.HasSlot {
		t.Fatalf("unexpected %+v", cfg)
	}
	if cfg.Timing != (Timing{15, 10, 2}) || cfg.Grace != 4.5 {
		t.Fatalf("timing %+v grace %v", cfg.Timing, cfg.Grace)
	}
	if strings.Join(cfg.Command, " ") != "sh -c true" {
		t.Fatalf("command %q", cfg.Command)
	}
}

func TestBothFlagForms(t *testing.T) {
	args := []string{"--lease=db", "--namespace", "ns", "--identity=me", "--kubeconfig=/x",
		"--lease-duration=4", "--renew-deadline", "3.0", "--retry-period=500ms", "--grace", "0.25",
		"--timeout=1m", "--slot", "2024-05-01T12:00:00Z", "--", "prog", "--lease", "other"}
	cfg, err := parseArgs(args, env(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	want := Config{Command: []string{"prog", "--lease", "other"}, Lease: "db", Namespace: "ns", Identity: "me",
		Kubeconfig: "/x", Timing: Timing{4, 3, 0.5}, Grace: 0.25, Timeout: 60, Slot: "2024-05-01T12:00:00Z",
		HasSlot: true}
	if strings.Join(cfg.Command, "|") != strings.Join(want.Command, "|") {
		t.Fatalf("command %q", cfg.Command)
	}
	cfg.Command, want.Command = nil, nil
	if !reflect.DeepEqual(*cfg, want) {
		t.Fatalf("got %+v\nwant %+v", *cfg, want)
	}
}

func TestCommandWithoutDoubleDash(t *testing.T) {
	cfg, err := parse(t, "--lease db prog --flag", nil)
	if err != nil || strings.Join(cfg.Command, " ") != "prog --flag" {
		t.Fatalf("%v %v", cfg, err)
	}
}

func TestPool(t *testing.T) {
	cfg, err := parse(t, "--pool web -- prog", map[string]string{"POD_NAME": "web-0"})
	if err != nil || cfg.Lease != "web" || cfg.Identity != "web-0" {
		t.Fatalf("%+v %v", cfg, err)
	}
}

func TestHelp(t *testing.T) {
	var out strings.Builder
	if _, err := parseArgs([]string{"--help"}, env(nil), &out); !errors.Is(err, errHelp) || !strings.Contains(out.String(), "usage:") {
		t.Fatalf("%v %q", err, out.String())
	}
}

func TestRefusals(t *testing.T) {
	timing := "--lease-duration 4 --renew-deadline 3 --retry-period 0.5"
	for _, c := range []struct{ args, want string }{
		{"--lease db --grace 5 -- p", "--grace 5 must be between 0 and lease-duration - renew-deadline - 0.5 = 4.5 " +
			"seconds (the child must be dead before another candidate may take over)"},
		{timing + " --lease db --grace 5 -- p", "--grace 5 must be between 0 and lease-duration - renew-deadline - 0.5 = 0.5 seconds"},
		{"--lease db --grace -1 -- p", "--grace -1 must be between 0 and"},
		{"--lease db --grace x -- p", "invalid value for '--grace': 'x' is not a duration"},
		{"--lease db", "no command given: write it after `--`"},
		{"--lease db --", "no command given"},
		{"-- p", "--lease NAME (or --pool NAME) is required"},
		{"--pool a --lease b -- p", "--pool and --lease are mutually exclusive"},
		{"--pool a --identity b -- p", "--pool and --identity are mutually exclusive"},
		{"--pool a -- p", "--pool needs POD_NAME in the environment"},
		{"--lease Bad_Name -- p", "invalid Lease name 'Bad_Name'"},
		{"--lease db --identity= -- p", "--identity must not be empty"},
		{"--lease db --slot a --slot-from-job j -- p", "--slot and --slot-from-job are mutually exclusive"},
		{"--lease db --slot= -- p", "--slot must be 1 to 253 characters (got 0)"},
		{"--lease db --slot " + strings.Repeat("x", 254) + " -- p", "--slot must be 1 to 253 characters (got 254)"},
		{"--lease db --timeout -2 -- p", "--timeout -2 must be zero or more seconds"},
		{"--lease db --lease-duration 0 -- p", "invalid leader-election timing: --lease-duration must be greater than zero (got 0.0)"},
		{"--lease db --lease-duration 15.5 -- p", "--lease-duration must be a whole number of seconds (got 15.5)"},
		{"--lease db --lease-duration 10 -- p", "--lease-duration (10s) must be greater than --renew-deadline (10s)"},
		{"--lease db --renew-deadline 2 -- p", "--renew-deadline (2s) must be greater than jitter_factor x --retry-period (1.2 x 2s = 2.4s)"},
		{"--lease db --lease-duration 11 --renew-deadline 10.8 -- p", "--lease-duration (11s) must exceed --renew-deadline (10.8s) by at least 0.5s"},
		{"--lease db --bogus 1 -- p", "no such option: --bogus"},
		{"--lease", "option '--lease' requires an argument"},
	} {
		_, err := parse(t, c.args, nil)
		var usage *usageError
		if !errors.As(err, &usage) || !strings.Contains(usage.msg, c.want) || strings.Contains(usage.msg, "\n") {
			t.Errorf("%s: got %v, want %q", c.args, err, c.want)
		}
	}
}

func TestAllProblemsOnOneLine(t *testing.T) {
	_, err := parse(t, "--pool a --lease b --timeout -1", nil)
	msg := err.Error()
	for _, part := range []string{"no command given", "--pool and --lease", "--pool needs POD_NAME", "--timeout -1"} {
		if !strings.Contains(msg, part) {
			t.Errorf("%q lacks %q", msg, part)
		}
	}
	if strings.Count(msg, "; ") != 3 {
		t.Errorf("want four problems joined by '; ': %q", msg)
	}
}
