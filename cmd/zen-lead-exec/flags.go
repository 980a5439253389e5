package main

// The command line: parsed with the standard flag package (which accepts --flag value, --flag=value
// and the single-dash forms alike), checked against the same rules, in the same order and with the
// same sentences as the Python command (src/zen_lead/exec/core.py), so that one test suite can judge
// both. Every problem is collected and said on ONE line; the exit code is 2.

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

const (
	// killMargin keeps the SIGKILL of the child this many seconds before the earliest takeover: it
	// covers the wake-up of the timer and the kernel's delivery of the signal.
	killMargin    = 0.5
	maxSlotLength = 253
	exitUsage     = 2
	exitTimeout   = 75 // EX_TEMPFAIL: --timeout passed before this wrapper led
)

// errHelp: -h or --help was given; the usage went to stdout.
var errHelp = errors.New("help requested")

// usageError is a bad command line, said in one line.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

// Timing is the election timing in seconds, as given.
type Timing struct {
	LeaseDuration, RenewDeadline, RetryPeriod float64
}

func (t Timing) leaseDurationSeconds() int32  { return int32(t.LeaseDuration) }
func (t Timing) leaseDuration() time.Duration { return seconds(t.LeaseDuration) }
func (t Timing) renewDeadline() time.Duration { return seconds(t.RenewDeadline) }
func (t Timing) retryPeriod() time.Duration   { return seconds(t.RetryPeriod) }

// callTimeout is the longest any single API call may take: a third of the renew deadline, so a hung
// call never delays a step-down and two more tries fit before the deadline.
func (t Timing) callTimeout() time.Duration { return seconds(t.RenewDeadline / 3) }

func (t Timing) deadlineReason() string {
	return fmt.Sprintf("renew deadline passed: no successful renewal for %ss", g(t.RenewDeadline))
}

// maxGrace is the longest SIGTERM-to-SIGKILL grace that still ends killMargin before a takeover: the
// child gets SIGKILL at most grace after the deadline (renew-deadline after the start of the last
// renewal) and nobody may take over before lease-duration after they saw that renewal.
func (t Timing) maxGrace() float64 { return t.LeaseDuration - t.RenewDeadline - killMargin }

// Config is a checked command line.
type Config struct {
	Command     []string
	Lease       string // the Lease's name (--lease or --pool)
	Pool        bool   // --pool: a member that follows the pools controller's nomination
	Namespace   string // --namespace; "" means: find it (kube.go)
	Identity    string // "" means: make one (defaultIdentity)
	Kubeconfig  string
	Timing      Timing
	Grace       float64
	Timeout     float64 // seconds; negative means wait forever
	Slot        string
	HasSlot     bool
	SlotFromJob string
}

// text is a string flag that knows whether it was given (an empty value is not "absent").
type text struct {
	value string
	set   bool
}

func (t *text) String() string     { return t.value }
func (t *text) Set(v string) error { t.value, t.set = v, true; return nil }

// duration is a number of seconds or a Go duration (15s, 1m30s, 500ms), as the Python command takes
// them. A bad value is remembered so that the one-line message is ours, not the flag package's.
type duration struct {
	name    string
	value   float64
	set     bool
	problem *string
}

func (d *duration) String() string { return strconv.FormatFloat(d.value, 'g', -1, 64) }

func (d *duration) Set(v string) error {
	trimmed := strings.TrimSpace(v)
	value, err := strconv.ParseFloat(trimmed, 64)
	if err != nil {
		parsed, derr := time.ParseDuration(trimmed)
		value, err = parsed.Seconds(), derr
	}
	if err != nil || math.IsNaN(value) || math.IsInf(value, 0) {
		msg := fmt.Sprintf("invalid value for '--%s': '%s' is not a duration: write it as 15s, 1m30s or 500ms", d.name, v)
		*d.problem = msg
		return errors.New(msg)
	}
	d.value, d.set = value, true
	return nil
}

const usageText = `usage: zen-lead-exec [flags] -- COMMAND [ARG]...

Run COMMAND only while this process leads a coordination.k8s.io/v1 Lease. The program gets
ZEN_LEAD_TOKEN (the fencing token), ZEN_LEAD_TERM, ZEN_LEAD_FENCING_TOKEN, ZEN_LEAD_LEASE,
ZEN_LEAD_IDENTITY (and ZEN_LEAD_SLOT). When leadership is lost it gets SIGTERM, and SIGKILL
--grace later, before anyone else may lead; then the wrapper campaigns again.

flags (durations: seconds, or 15s, 1m30s, 500ms):
  --lease NAME            the Lease to campaign on
  --pool NAME             campaign on the Lease NAME as this pod ($POD_NAME)
  --namespace NAME        default: $POD_NAMESPACE, the service account's, else the kubeconfig context's
  --identity ID           default: $POD_NAME or hostname + random suffix
  --kubeconfig PATH       default: $KUBECONFIG, in-cluster, else ~/.kube/config
  --lease-duration D      default 15s
  --renew-deadline D      default 10s
  --retry-period D        default 2s
  --grace D               SIGTERM to SIGKILL when leadership is lost; default and maximum:
                          lease-duration - renew-deadline - 0.5s
  --timeout D             give up (exit 75) when not leading within this long; default: wait forever
  --slot VALUE            run once per slot: skip (exit 0) if done
  --slot-from-job JOB     the slot is this Job's batch.kubernetes.io/cronjob-scheduled-timestamp

Exit codes: the program's own (killed by signal N: 128+N); 0 when the slot was already done;
75 when --timeout passed; 128+N when stopped by signal N before the program ran; 2 for bad flags;
126/127 when the program cannot be executed / does not exist.
`

// parseArgs parses and checks the command line (without the program name). getenv is os.Getenv in
// production; only POD_NAME and KUBECONFIG are read here.
func parseArgs(args []string, getenv func(string) string, stdout io.Writer) (*Config, error) {
	fs := flag.NewFlagSet("zen-lead-exec", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // the flag package's own messages are several lines; ours are one
	fs.Usage = func() {}
	var problem string
	var lease, pool, namespace, identity, kubeconfig, slot, slotFromJob text
	for name, value := range map[string]*text{
		"lease": &lease, "pool": &pool, "namespace": &namespace, "identity": &identity,
		"kubeconfig": &kubeconfig, "slot": &slot, "slot-from-job": &slotFromJob,
	} {
		fs.Var(value, name, "")
	}
	ld := &duration{name: "lease-duration", value: 15, problem: &problem}
	rd := &duration{name: "renew-deadline", value: 10, problem: &problem}
	rp := &duration{name: "retry-period", value: 2, problem: &problem}
	grace := &duration{name: "grace", problem: &problem}
	timeout := &duration{name: "timeout", problem: &problem}
	for _, d := range []*duration{ld, rd, rp, grace, timeout} {
		fs.Var(d, d.name, "")
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, usageText)
			return nil, errHelp
		}
		return nil, &usageError{parseProblem(err, problem)}
	}

	cfg := &Config{
		Command:     fs.Args(),
		Namespace:   namespace.value,
		Identity:    identity.value,
		Kubeconfig:  kubeconfig.value,
		Timing:      Timing{LeaseDuration: ld.value, RenewDeadline: rd.value, RetryPeriod: rp.value},
		Timeout:     -1,
		Slot:        slot.value,
		HasSlot:     slot.set,
		SlotFromJob: slotFromJob.value,
	}
	if !kubeconfig.set {
		cfg.Kubeconfig = getenv("KUBECONFIG")
	}
	var problems []string
	if len(cfg.Command) == 0 {
		problems = append(problems, "no command given: write it after `--`, e.g. `zen-lead exec --lease NAME -- cmd args`")
	}
	if pool.set {
		cfg.Lease, cfg.Pool = pool.value, true
		if lease.set {
			problems = append(problems, "--pool and --lease are mutually exclusive: --pool NAME campaigns on the Lease NAME")
		}
		if identity.set {
			problems = append(problems, "--pool and --identity are mutually exclusive: in a pool the identity is the pod's name")
		}
		if getenv("POD_NAME") == "" {
			problems = append(problems, "--pool needs POD_NAME in the environment (the downward API's metadata.name)")
		}
		cfg.Identity = getenv("POD_NAME")
	} else if !lease.set {
		problems = append(problems, "--lease NAME (or --pool NAME) is required")
	} else {
		cfg.Lease = lease.value
	}
	if lease.set || pool.set {
		if msg := leaseNameProblem(cfg.Lease); msg != "" {
			problems = append(problems, msg)
		}
	}
	if identity.set && identity.value == "" {
		problems = append(problems, "--identity must not be empty")
	}
	if slot.set && slotFromJob.set {
		problems = append(problems, "--slot and --slot-from-job are mutually exclusive")
	}
	if n := utf8.RuneCountInString(slot.value); slot.set && (n == 0 || n > maxSlotLength) {
		problems = append(problems, fmt.Sprintf("--slot must be 1 to %d characters (got %d)", maxSlotLength, n))
	}
	if slotFromJob.set && slotFromJob.value == "" {
		problems = append(problems, "--slot-from-job must name a Job")
	}
	if timeout.set {
		cfg.Timeout = timeout.value
		if !(timeout.value >= 0) {
			problems = append(problems, fmt.Sprintf("--timeout %s must be zero or more seconds", g(timeout.value)))
		}
	}
	if timingProblems := timingProblems(cfg.Timing); len(timingProblems) > 0 {
		problems = append(problems, "invalid leader-election timing: "+strings.Join(timingProblems, "; "))
	} else if most := cfg.Timing.maxGrace(); most < 0 {
		problems = append(problems, fmt.Sprintf(
			"--lease-duration (%ss) must exceed --renew-deadline (%ss) by at least %ss: the time the wrapper "+
				"needs to kill its child before another candidate may take over",
			g(cfg.Timing.LeaseDuration), g(cfg.Timing.RenewDeadline), g(killMargin)))
	} else if grace.set && !(grace.value >= 0 && grace.value <= most) {
		problems = append(problems, fmt.Sprintf(
			"--grace %s must be between 0 and lease-duration - renew-deadline - %s = %s seconds (the child "+
				"must be dead before another candidate may take over)", g(grace.value), g(killMargin), g(most)))
	} else if grace.set {
		cfg.Grace = grace.value
	} else {
		cfg.Grace = most
	}
	if len(problems) > 0 {
		return nil, &usageError{strings.Join(problems, "; ")}
	}
	return cfg, nil
}

// timingProblems are client-go's rules (and zen-lead's Timing's), in its order, with its sentences.
func timingProblems(t Timing) []string {
	var problems []string
	for _, f := range []struct {
		flag  string
		value float64
	}{{"--lease-duration", t.LeaseDuration}, {"--renew-deadline", t.RenewDeadline}, {"--retry-period", t.RetryPeriod}} {
		if !(f.value > 0) {
			problems = append(problems, fmt.Sprintf("%s must be greater than zero (got %s)", f.flag, pyRepr(f.value)))
		}
	}
	if len(problems) > 0 {
		return problems
	}
	ld, rd, rp := t.LeaseDuration, t.RenewDeadline, t.RetryPeriod
	if ld != math.Trunc(ld) {
		problems = append(problems, fmt.Sprintf("--lease-duration must be a whole number of seconds (got %s): "+
			"the Lease stores leaseDurationSeconds as an integer", pyRepr(ld)))
	}
	if !(ld > rd) {
		problems = append(problems, fmt.Sprintf("--lease-duration (%ss) must be greater than --renew-deadline (%ss): "+
			"the leader must stop acting before the others may take over", g(ld), g(rd)))
	}
	if !(rd > jitterFactor*rp) {
		problems = append(problems, fmt.Sprintf("--renew-deadline (%ss) must be greater than jitter_factor x "+
			"--retry-period (%s x %ss = %ss): the leader needs time for more than one renewal attempt",
			g(rd), g(jitterFactor), g(rp), g(jitterFactor*rp)))
	}
	return problems
}

// dnsSubdomain is what the apiserver accepts as a Lease name (checked before any request is made).
var dnsSubdomain = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)

func leaseNameProblem(name string) string {
	if len(name) > 253 || !dnsSubdomain.MatchString(name) {
		return fmt.Sprintf("invalid Lease name '%s': must be a DNS subdomain (lower-case letters, digits, '-' and "+
			"'.', starting and ending with a letter or digit, at most 253 characters)", name)
	}
	return ""
}

// parseProblem turns the flag package's error into a sentence like click's (the Python command's).
func parseProblem(err error, recorded string) string {
	msg := err.Error()
	switch {
	case recorded != "":
		return recorded
	case strings.HasPrefix(msg, "flag provided but not defined: "):
		name := strings.TrimLeft(strings.TrimPrefix(msg, "flag provided but not defined: "), "-")
		return fmt.Sprintf("no such option: --%s (see: zen-lead-exec --help)", name)
	case strings.HasPrefix(msg, "flag needs an argument: "):
		name := strings.TrimLeft(strings.TrimPrefix(msg, "flag needs an argument: "), "-")
		return fmt.Sprintf("option '--%s' requires an argument (see: zen-lead-exec --help)", name)
	}
	return msg + " (see: zen-lead-exec --help)"
}

// g formats like Python's "{:g}": six significant digits, no trailing zeros.
func g(f float64) string { return strconv.FormatFloat(f, 'g', 6, 64) }

// pyRepr formats like Python's repr of a float: shortest round-trip digits, "15.0" for whole numbers.
func pyRepr(f float64) string {
	if f == math.Trunc(f) && math.Abs(f) < 1e16 {
		return strconv.FormatFloat(f, 'f', 1, 64)
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}
