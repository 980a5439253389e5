package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"time"

	"google.golang.org/grpc"

	zpb "zen-lead.io/client/zenleadv1"
)

// zenSystem: subscribers are Leaders.Watch streams on a plain Lease; a change is a merge patch of the
// Lease's holder and term through the apiserver; the independent watcher is an apiserver watch on it.
type zenSystem struct {
	o         *options
	kube      *http.Client
	kubeToken string
	conns     []*grpc.ClientConn
	expected  *expectations
	errs      streamErrs
	base      int64 // leaseTransitions before this run: round k writes base + 1 + k
}

type leaseObject struct {
	Metadata struct {
		ResourceVersion string `json:"resourceVersion"`
	} `json:"metadata"`
	Spec struct {
		HolderIdentity   string `json:"holderIdentity"`
		LeaseTransitions int64  `json:"leaseTransitions"`
	} `json:"spec"`
}

func newZenSystem(ctx context.Context, o *options) (*zenSystem, error) {
	ca, err := os.ReadFile(o.kubeCA)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(ca) {
		return nil, fmt.Errorf("no certificate in %s", o.kubeCA)
	}
	token, err := readToken(o.kubeToken)
	if err != nil {
		return nil, err
	}
	z := &zenSystem{o: o, kubeToken: token, expected: newExpectations(),
		kube: &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}}
	var lease leaseObject
	if err := z.kubeJSON(ctx, http.MethodGet, z.leasePath(), nil, &lease); err != nil {
		return nil, err
	}
	z.base = lease.Spec.LeaseTransitions
	if err := z.watch(ctx, lease.Metadata.ResourceVersion); err != nil {
		return nil, err
	}
	if _, _, err := z.change(ctx, "holder", 0); err != nil { // the starting state: "round-0"
		return nil, err
	}
	return z, nil
}

func (z *zenSystem) leasePath() string {
	return fmt.Sprintf("/apis/coordination.k8s.io/v1/namespaces/%s/leases/%s", z.o.namespace, z.o.lease)
}

func (z *zenSystem) kubeJSON(ctx context.Context, method, path string, body []byte, out any) error {
	request, err := http.NewRequestWithContext(ctx, method, z.o.kubeServer+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	request.Header.Set("Authorization", "Bearer "+z.kubeToken)
	if body != nil {
		request.Header.Set("Content-Type", "application/merge-patch+json")
	}
	response, err := z.kube.Do(request)
	if err != nil {
		return err
	}
	defer response.Body.Close()
	raw, err := io.ReadAll(response.Body)
	if err != nil {
		return err
	}
	if response.StatusCode != http.StatusOK {
		return fmt.Errorf("%s %s: HTTP %d: %.300s", method, path, response.StatusCode, raw)
	}
	if out != nil {
		return json.Unmarshal(raw, out)
	}
	return nil
}

// watch starts the independent watcher: an apiserver watch on the one Lease, each event stamped as
// it is decoded.
func (z *zenSystem) watch(ctx context.Context, resourceVersion string) error {
	query := url.Values{
		"watch":           {"true"},
		"fieldSelector":   {"metadata.name=" + z.o.lease},
		"resourceVersion": {resourceVersion},
		"timeoutSeconds":  {"3600"},
	}
	path := fmt.Sprintf("/apis/coordination.k8s.io/v1/namespaces/%s/leases?%s", z.o.namespace, query.Encode())
	request, err := http.NewRequestWithContext(ctx, http.MethodGet, z.o.kubeServer+path, nil)
	if err != nil {
		return err
	}
	request.Header.Set("Authorization", "Bearer "+z.kubeToken)
	response, err := z.kube.Do(request)
	if err != nil {
		return err
	}
	if response.StatusCode != http.StatusOK {
		response.Body.Close()
		return fmt.Errorf("watch: HTTP %d", response.StatusCode)
	}
	go func() {
		defer response.Body.Close()
		decoder := json.NewDecoder(response.Body)
		for {
			var event struct {
				Type   string      `json:"type"`
				Object leaseObject `json:"object"`
			}
			if err := decoder.Decode(&event); err != nil {
				return
			}
			z.expected.saw(event.Object.Spec.HolderIdentity, time.Now())
		}
	}()
	return nil
}

func (z *zenSystem) open(ctx context.Context, n int, seen func(i int, value string)) (func() []string, error) {
	for range z.o.channels {
		conn, err := dial(z.o.zenGRPC)
		if err != nil {
			return nil, err
		}
		z.conns = append(z.conns, conn)
	}
	if !z.o.cold { // one call puts the caller in the auth caches: the streams then open on cache hits
		if err := zenGet(z.conns[0], z.o, z.o.token)(ctx); err != nil {
			return nil, err
		}
	}
	request := &zpb.WatchLeaderRequest{Target: leaseTarget(z.o), HeartbeatSeconds: 300}
	for i := range n {
		client := zpb.NewLeadersClient(z.conns[i%len(z.conns)])
		go func() {
			stream, err := client.Watch(withToken(ctx, z.o.token), request)
			if err != nil {
				z.errs.add(err)
				return
			}
			for {
				event, err := stream.Recv()
				if err != nil {
					if ctx.Err() == nil && !errors.Is(err, io.EOF) {
						z.errs.add(err)
					}
					return
				}
				if state := event.GetState(); state.GetHasLeader() {
					seen(i, state.GetLeader().GetIdentity())
				}
			}
		}()
	}
	return z.errs.list, nil
}

func (z *zenSystem) change(ctx context.Context, _ string, k int) (time.Time, time.Time, error) {
	now := time.Now().UTC().Format("2006-01-02T15:04:05.000000Z07:00")
	patch, err := json.Marshal(map[string]any{"spec": map[string]any{
		"holderIdentity": roundValue(k), "leaseTransitions": z.base + 1 + int64(k),
		"leaseDurationSeconds": 3600, "acquireTime": now, "renewTime": now,
	}})
	if err != nil {
		return time.Time{}, time.Time{}, err
	}
	seen := z.expected.expect(roundValue(k))
	written := time.Now()
	if err := z.kubeJSON(ctx, http.MethodPatch, z.leasePath(), patch, nil); err != nil {
		return time.Time{}, time.Time{}, err
	}
	observed, err := await(ctx, seen, "the Lease held by "+roundValue(k))
	return written, observed, err
}

func (z *zenSystem) close() {
	for _, conn := range z.conns {
		conn.Close()
	}
}
