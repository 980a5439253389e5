// Command apidriver is the client side of `python -m bench.api`: one Go client for both servers
// compared there (zen-lead's status API and etcd's v3election service), so that what a subscriber or
// a request costs on the client is the same on both sides and the numbers compare the servers.
//
//	apidriver latency  --target zen-grpc|zen-http|etcd --rate R --duration D   requests at a fixed rate
//	apidriver firstcall --target zen-grpc|zen-http --tokens-file F              one call per fresh token
//	apidriver fanout   --system zen|etcd --subscribers N --rounds R             change -> every subscriber
//
// Each prints one JSON document on stdout; durations are seconds, measured with Go's monotonic clock
// in this one process. The Python side starts the servers, grants the token, reads nothing but this.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"time"
)

// Options shared by the subcommands: where the servers are and who the caller is.
type options struct {
	zenGRPC, zenHTTP, etcd         string // host:port
	token                          string // the caller's bearer token for zen-lead
	namespace, lease, election     string // the zen-lead target (a plain Lease) and the etcd election
	kubeServer, kubeCA, kubeToken  string // the apiserver, for the independent watcher and the writes
	serverPID                      int    // the server whose RSS and CPU are read from /proc
	rate                           float64
	duration, warmup, settle       time.Duration
	subscribers, channels, rounds  int
	pause, roundTimeout            time.Duration
	target, system, modes, tokensF string
	cold                           bool // fanout, zen: open the streams without warming the auth cache first
}

func parse(args []string) (string, *options, error) {
	if len(args) < 1 {
		return "", nil, fmt.Errorf("usage: apidriver latency|firstcall|fanout [flags]")
	}
	o := &options{}
	fs := flag.NewFlagSet(args[0], flag.ContinueOnError)
	fs.StringVar(&o.zenGRPC, "zen-grpc", "", "zen-lead gRPC address")
	fs.StringVar(&o.zenHTTP, "zen-http", "", "zen-lead HTTP address")
	fs.StringVar(&o.etcd, "etcd", "", "etcd client address")
	tokenFile := fs.String("token-file", "", "file holding the caller's bearer token")
	fs.StringVar(&o.namespace, "namespace", "default", "namespace of the Lease")
	fs.StringVar(&o.lease, "lease", "bench-target", "the plain Lease watched through zen-lead")
	fs.StringVar(&o.election, "election", "bench-election", "the etcd election name")
	fs.StringVar(&o.kubeServer, "kube-server", "", "apiserver URL")
	fs.StringVar(&o.kubeCA, "kube-ca", "", "apiserver CA file")
	fs.StringVar(&o.kubeToken, "kube-token-file", "", "file holding an apiserver token that may patch and watch the Lease")
	fs.IntVar(&o.serverPID, "server-pid", 0, "pid of the server measured (RSS, CPU)")
	fs.Float64Var(&o.rate, "rate", 200, "requests per second")
	fs.DurationVar(&o.duration, "duration", 10*time.Second, "measured time at the rate")
	fs.DurationVar(&o.warmup, "warmup", 2*time.Second, "time at the rate before measuring")
	fs.DurationVar(&o.settle, "settle", 2*time.Second, "wait before reading RSS")
	fs.IntVar(&o.subscribers, "subscribers", 1000, "subscriber streams")
	fs.IntVar(&o.channels, "channels", 10, "gRPC connections the streams are spread over")
	fs.IntVar(&o.rounds, "rounds", 30, "changes per mode")
	fs.DurationVar(&o.pause, "pause", 300*time.Millisecond, "quiet time between rounds")
	fs.DurationVar(&o.roundTimeout, "round-timeout", 30*time.Second, "give up on a round's stragglers after")
	fs.StringVar(&o.target, "target", "", "latency: zen-grpc, zen-http or etcd")
	fs.StringVar(&o.system, "system", "", "fanout: zen or etcd")
	fs.StringVar(&o.modes, "modes", "", "fanout, etcd: proclaim,handoff")
	fs.StringVar(&o.tokensF, "tokens-file", "", "firstcall: one fresh token a line")
	fs.BoolVar(&o.cold, "cold", false, "fanout, zen: no Get before the streams (every stream's review is a miss)")
	if err := fs.Parse(args[1:]); err != nil {
		return "", nil, err
	}
	if *tokenFile != "" {
		token, err := readToken(*tokenFile)
		if err != nil {
			return "", nil, err
		}
		o.token = token
	}
	return args[0], o, nil
}

func main() {
	command, o, err := parse(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	var result any
	switch command {
	case "latency":
		result, err = runLatency(o)
	case "firstcall":
		result, err = runFirstCalls(o)
	case "fanout":
		result, err = runFanout(o)
	default:
		err = fmt.Errorf("unknown command %q", command)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "apidriver:", err)
		os.Exit(1)
	}
	if err := json.NewEncoder(os.Stdout).Encode(result); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func readToken(path string) (string, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	for len(raw) > 0 && (raw[len(raw)-1] == '\n' || raw[len(raw)-1] == '\r') {
		raw = raw[:len(raw)-1]
	}
	return string(raw), nil
}
