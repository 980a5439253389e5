package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	epb "go.etcd.io/etcd/server/v3/etcdserver/api/v3election/v3electionpb"
	zpb "zen-lead.io/client/zenleadv1"
)

// call is one request; it returns an error for anything but a well-formed success.
type call func(ctx context.Context) error

type latencyResult struct {
	Target     string    `json:"target"`
	Rate       float64   `json:"rate"`
	Seconds    float64   `json:"seconds"`
	Sent       int       `json:"sent"`
	Errors     int       `json:"errors"`
	FirstError string    `json:"first_error,omitempty"`
	Late       int       `json:"late"` // sends that started more than 1 ms behind their slot
	CPUSeconds float64   `json:"server_cpu_seconds"`
	Samples    []float64 `json:"samples"`
}

func dial(address string) (*grpc.ClientConn, error) {
	return grpc.NewClient(address, grpc.WithTransportCredentials(insecure.NewCredentials()))
}

func withToken(ctx context.Context, token string) context.Context {
	return metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+token)
}

func leaseTarget(o *options) *zpb.Target {
	return &zpb.Target{Kind: zpb.Kind_KIND_LEASE, Namespace: o.namespace, Name: o.lease}
}

// zenGet is Leaders.Get over one connection with the given token.
func zenGet(conn *grpc.ClientConn, o *options, token string) call {
	client := zpb.NewLeadersClient(conn)
	request := &zpb.GetLeaderRequest{Target: leaseTarget(o)}
	return func(ctx context.Context) error {
		state, err := client.Get(withToken(ctx, token), request)
		if err == nil && !state.GetHasLeader() {
			err = fmt.Errorf("no leader in %v", state)
		}
		return err
	}
}

func httpClient() *http.Client {
	transport := &http.Transport{MaxIdleConns: 256, MaxIdleConnsPerHost: 256, IdleConnTimeout: time.Minute}
	return &http.Client{Transport: transport, Timeout: 30 * time.Second}
}

// zenHTTP is GET /v1/leader/lease/{name} with the given token (a keep-alive pool).
func zenHTTP(client *http.Client, o *options, token string) call {
	url := fmt.Sprintf("http://%s/v1/leader/lease/%s?namespace=%s", o.zenHTTP, o.lease, o.namespace)
	return func(ctx context.Context) error {
		request, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		request.Header.Set("Authorization", "Bearer "+token)
		response, err := client.Do(request)
		if err != nil {
			return err
		}
		body, err := io.ReadAll(response.Body)
		response.Body.Close()
		if err == nil && response.StatusCode != http.StatusOK {
			err = fmt.Errorf("HTTP %d: %.200s", response.StatusCode, body)
		}
		return err
	}
}

// etcdLeader is v3election's Election.Leader.
func etcdLeader(conn *grpc.ClientConn, o *options) call {
	client := epb.NewElectionClient(conn)
	request := &epb.LeaderRequest{Name: []byte(o.election)}
	return func(ctx context.Context) error {
		_, err := client.Leader(ctx, request)
		return err
	}
}

func targetCall(o *options, token string) (call, func(), error) {
	switch o.target {
	case "zen-grpc":
		conn, err := dial(o.zenGRPC)
		if err != nil {
			return nil, nil, err
		}
		return zenGet(conn, o, token), func() { conn.Close() }, nil
	case "zen-http":
		client := httpClient()
		return zenHTTP(client, o, token), client.CloseIdleConnections, nil
	case "etcd":
		conn, err := dial(o.etcd)
		if err != nil {
			return nil, nil, err
		}
		if err := ensureLeader(conn, o); err != nil {
			return nil, nil, err
		}
		return etcdLeader(conn, o), func() { conn.Close() }, nil
	}
	return nil, nil, fmt.Errorf("--target: %q is not zen-grpc, zen-http or etcd", o.target)
}

// runLatency sends requests on a fixed schedule (open loop: a slow answer does not delay the next
// request, each runs in its own goroutine), first for --warmup, then for --duration, measured.
func runLatency(o *options) (*latencyResult, error) {
	do, closer, err := targetCall(o, o.token)
	if err != nil {
		return nil, err
	}
	defer closer()
	ctx := context.Background()
	if err := do(ctx); err != nil { // reachable, authorised and answering before the clock starts
		return nil, fmt.Errorf("%s: first request: %w", o.target, err)
	}
	interval := time.Duration(float64(time.Second) / o.rate)
	warm := int(o.warmup / interval)
	total := warm + int(o.duration/interval)
	result := &latencyResult{Target: o.target, Rate: o.rate, Seconds: o.duration.Seconds()}
	var mu sync.Mutex
	var wg sync.WaitGroup
	start := time.Now()
	var cpuStart float64
	for k := range total {
		if k == warm {
			cpuStart = cpuSeconds(o.serverPID)
		}
		slot := start.Add(time.Duration(k) * interval)
		time.Sleep(time.Until(slot))
		measured := k >= warm
		wg.Add(1)
		go func() {
			defer wg.Done()
			began := time.Now()
			callErr := do(ctx)
			elapsed := time.Since(began).Seconds()
			if !measured {
				return
			}
			mu.Lock()
			defer mu.Unlock()
			result.Sent++
			if began.Sub(slot) > time.Millisecond {
				result.Late++
			}
			if callErr != nil {
				if result.Errors == 0 {
					result.FirstError = callErr.Error()
				}
				result.Errors++
				return
			}
			result.Samples = append(result.Samples, elapsed)
		}()
	}
	wg.Wait()
	result.CPUSeconds = cpuSeconds(o.serverPID) - cpuStart
	return result, nil
}

type firstCallResult struct {
	Target  string    `json:"target"`
	Errors  int       `json:"errors"`
	Samples []float64 `json:"samples"`
}

// runFirstCalls makes one call per token, one after another on one connection (opened beforehand
// with a rejected call): each is that token's first, so the server reviews it (TokenReview) and
// authorises it (SubjectAccessReview) before it answers.
func runFirstCalls(o *options) (*firstCallResult, error) {
	raw, err := readToken(o.tokensF)
	if err != nil {
		return nil, err
	}
	var with func(token string) call
	switch o.target {
	case "zen-grpc":
		conn, err := dial(o.zenGRPC)
		if err != nil {
			return nil, err
		}
		defer conn.Close()
		with = func(token string) call { return zenGet(conn, o, token) }
	case "zen-http":
		client := httpClient()
		defer client.CloseIdleConnections()
		with = func(token string) call { return zenHTTP(client, o, token) }
	default:
		return nil, fmt.Errorf("--target: %q is not zen-grpc or zen-http", o.target)
	}
	ctx := context.Background()
	_ = with("not-a-token")(ctx)
	result := &firstCallResult{Target: o.target}
	for _, token := range splitLines(raw) {
		began := time.Now()
		if err := with(token)(ctx); err != nil {
			result.Errors++
			continue
		}
		result.Samples = append(result.Samples, time.Since(began).Seconds())
	}
	return result, nil
}

func splitLines(text string) []string {
	var lines []string
	start := 0
	for i := 0; i <= len(text); i++ {
		if i == len(text) || text[i] == '\n' {
			if i > start {
				lines = append(lines, text[start:i])
			}
			start = i + 1
		}
	}
	return lines
}
