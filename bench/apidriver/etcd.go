package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"
	epb "go.etcd.io/etcd/server/v3/etcdserver/api/v3election/v3electionpb"
	"google.golang.org/grpc"
)

// etcdSystem: subscribers are v3election Election.Observe streams (etcd's election service); the
// two campaigners use the client library's election (go.etcd.io/etcd/client/v3/concurrency, the
// algorithm the service runs for its own Campaign, here on the client: the service's Campaign did not
// return after the leader resigned in this setup, see newEtcdSystem). A change is either a Proclaim by
// the leader (a new value under the same leader key: one put) or a handoff (the leader resigns while
// the other campaigner waits: one delete, after which Observe looks the new leader up); the
// independent watcher is an etcd watch on the election's key prefix.
type etcdSystem struct {
	o          *options
	client     *clientv3.Client
	conns      []*grpc.ClientConn
	campaigns  [2]*concurrency.Election
	sessions   []*concurrency.Session
	leaderSlot int
	puts       *expectations // by value
	deletes    *expectations // by key
	errs       streamErrs
}

func newEtcdSystem(ctx context.Context, o *options) (*etcdSystem, error) {
	client, err := clientv3.New(clientv3.Config{Endpoints: []string{"http://" + o.etcd}, DialTimeout: 10 * time.Second})
	if err != nil {
		return nil, err
	}
	e := &etcdSystem{o: o, client: client, puts: newExpectations(), deletes: newExpectations()}
	for slot := range e.campaigns {
		session, err := concurrency.NewSession(client, concurrency.WithTTL(600))
		if err != nil {
			return nil, err
		}
		e.sessions = append(e.sessions, session)
		e.campaigns[slot] = concurrency.NewElection(session, o.election)
	}
	prefix := o.election + "/"
	if _, err := client.Delete(ctx, prefix, clientv3.WithPrefix()); err != nil { // a previous run's keys
		return nil, err
	}
	watch := client.Watch(ctx, prefix, clientv3.WithPrefix())
	go func() {
		for response := range watch {
			at := time.Now()
			for _, event := range response.Events {
				if event.Type == clientv3.EventTypeDelete {
					e.deletes.saw(string(event.Kv.Key), at)
				} else {
					e.puts.saw(string(event.Kv.Value), at)
				}
			}
		}
	}()
	time.Sleep(200 * time.Millisecond) // the watch registered before the first put
	seen := e.puts.expect(roundValue(0))
	if err := e.campaigns[0].Campaign(ctx, roundValue(0)); err != nil {
		return nil, err
	}
	if _, err := await(ctx, seen, "the first campaign"); err != nil {
		return nil, err
	}
	return e, nil
}

func (e *etcdSystem) open(ctx context.Context, n int, seen func(i int, value string)) (func() []string, error) {
	for range e.o.channels {
		conn, err := dial(e.o.etcd)
		if err != nil {
			return nil, err
		}
		e.conns = append(e.conns, conn)
	}
	subscribers := e.conns
	request := &epb.LeaderRequest{Name: []byte(e.o.election)}
	for i := range n {
		client := epb.NewElectionClient(subscribers[i%len(subscribers)])
		go func() {
			stream, err := client.Observe(ctx, request)
			if err != nil {
				e.errs.add(err)
				return
			}
			for {
				response, err := stream.Recv()
				if err != nil {
					if ctx.Err() == nil && !errors.Is(err, io.EOF) {
						e.errs.add(err)
					}
					return
				}
				if response.Kv != nil {
					seen(i, string(response.Kv.Value))
				}
			}
		}()
	}
	return e.errs.list, nil
}

func (e *etcdSystem) change(ctx context.Context, mode string, k int) (time.Time, time.Time, error) {
	value := roundValue(k)
	switch mode {
	case "proclaim":
		seen := e.puts.expect(value)
		written := time.Now()
		if err := e.campaigns[e.leaderSlot].Proclaim(ctx, value); err != nil {
			return time.Time{}, time.Time{}, err
		}
		observed, err := await(ctx, seen, "the proclaimed "+value)
		return written, observed, err
	case "handoff":
		standby, leader := 1-e.leaderSlot, e.campaigns[e.leaderSlot]
		queued := e.puts.expect(value)
		won := make(chan error, 1)
		go func() { won <- e.campaigns[standby].Campaign(ctx, value) }()
		if _, err := await(ctx, queued, "the standby's campaign key"); err != nil {
			return time.Time{}, time.Time{}, err
		}
		resigned := e.deletes.expect(leader.Key())
		written := time.Now()
		if err := leader.Resign(ctx); err != nil {
			return time.Time{}, time.Time{}, err
		}
		observed, err := await(ctx, resigned, "the resignation")
		if err != nil {
			return time.Time{}, time.Time{}, err
		}
		select {
		case err := <-won:
			if err != nil {
				return time.Time{}, time.Time{}, err
			}
			e.leaderSlot = standby
		case <-time.After(30 * time.Second):
			return time.Time{}, time.Time{}, fmt.Errorf("the standby never won; keys: %s", e.keys(ctx))
		}
		return written, observed, nil
	}
	return time.Time{}, time.Time{}, fmt.Errorf("--modes: %q is not proclaim or handoff", mode)
}

func (e *etcdSystem) close() {
	for _, conn := range e.conns {
		conn.Close()
	}
	for _, session := range e.sessions {
		session.Close()
	}
	e.client.Close()
}

// ensureLeader campaigns (on a lease of 10 minutes) when the election has no leader yet, so that
// Election.Leader has one to answer with.
func ensureLeader(conn *grpc.ClientConn, o *options) error {
	ctx := context.Background()
	election := epb.NewElectionClient(conn)
	if _, err := election.Leader(ctx, &epb.LeaderRequest{Name: []byte(o.election)}); err == nil {
		return nil
	}
	client, err := clientv3.New(clientv3.Config{Endpoints: []string{"http://" + o.etcd}, DialTimeout: 10 * time.Second})
	if err != nil {
		return err
	}
	defer client.Close()
	grant, err := client.Grant(ctx, 600)
	if err != nil {
		return err
	}
	_, err = election.Campaign(ctx, &epb.CampaignRequest{Name: []byte(o.election), Lease: int64(grant.ID),
		Value: []byte("latency")})
	return err
}

// keys describes the election's keys (for an error message).
func (e *etcdSystem) keys(ctx context.Context) string {
	response, err := e.client.Get(ctx, e.o.election+"/", clientv3.WithPrefix())
	if err != nil {
		return err.Error()
	}
	var out []string
	for _, kv := range response.Kvs {
		out = append(out, fmt.Sprintf("%s=%s (created %d, lease %x)", kv.Key, kv.Value, kv.CreateRevision, kv.Lease))
	}
	return fmt.Sprint(out)
}
