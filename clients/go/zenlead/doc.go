// Package zenlead is the Go client of zen-lead's status and lock API (zenlead.v1, served by
// `zen-lead run --api-bind-address`): who leads a pool, a Service or a Lease, told the moment it
// changes, and fenced locks.
//
//	c, err := zenlead.Dial(ctx, "zen-lead-api.zen-lead:8443", zenlead.WithCAFile("ca.crt"))
//	state, err := c.Leader(ctx, zenlead.Target{Kind: zenlead.KindPool, Name: "postgres"})
//	err = c.Watch(ctx, target, func(s zenlead.State) error { ...; return nil })
//	lock, err := c.Acquire(ctx, "nightly", 30*time.Second, "", 0)
//	defer lock.Release(context.Background())
//	select { case <-lock.Lost(): ... }
//
// Authentication: a Kubernetes bearer token (WithToken, WithTokenFile; by default the pod's
// ServiceAccount token when that file exists, re-read every minute so rotations are picked up).
// TLS by default; plaintext only to a loopback address (WithInsecureLoopback).
//
// Guarantees. Watch never passes a term lower than one it already passed, across reconnects and
// replicas: it reconnects on UNAVAILABLE (and on a stream silent past two heartbeats) with jittered
// backoff and resumes with after_term = the last term seen. A Lock is renewed every ttl/6 over the
// KeepAlive stream; when the stream breaks it is resumed with Renew (namespace, name, holder, token)
// on whatever replica the connection reaches. It is LOST when no renewal succeeded for 2/3 of the ttl
// measured from the START of the last successful renewal, on this process's monotonic clock, or when
// the server says someone else holds it (or its Lease is gone): Lost() is closed and Valid() turns
// false. The server's Lease expires a full ttl after the renewal it wrote, which leaves ttl/3 (less
// clock drift) in which nobody else can hold the lock while this client may still act on it. Pass Token() to the storage you
// write to, so that it refuses a holder that is late to notice.
//
// This package does not stop your code when the lock is lost: select on Lost(), or check Valid()
// before every action that needs the lock.
package zenlead
