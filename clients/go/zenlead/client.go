package zenlead

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"zen-lead.io/client/zenleadv1"
)

// ServiceAccountToken is the pod's token, the default credential when the file exists.
const ServiceAccountToken = "/var/run/secrets/kubernetes.io/serviceaccount/token"

const (
	tokenRefresh = time.Minute // the kubelet rotates projected tokens: re-read the file this often
	callTimeout  = 10 * time.Second
)

type options struct {
	token, tokenFile           string
	caFile, certFile, keyFile  string
	serverName                 string
	insecureLoopback           bool
	tlsConfig                  *tls.Config
	namespace                  string
	callTimeout                time.Duration
	backoffInitial, backoffMax time.Duration
}

// Option configures Dial.
type Option func(*options)

// WithToken sends token as the bearer token.
func WithToken(token string) Option { return func(o *options) { o.token = token } }

// WithTokenFile reads the bearer token from path (re-read every minute).
func WithTokenFile(path string) Option { return func(o *options) { o.tokenFile = path } }

// WithCAFile verifies the server with the CA certificates in path (default: the system's roots).
func WithCAFile(path string) Option { return func(o *options) { o.caFile = path } }

// WithClientCertificate presents a client certificate.
func WithClientCertificate(certFile, keyFile string) Option {
	return func(o *options) { o.certFile, o.keyFile = certFile, keyFile }
}

// WithServerName checks the server's certificate for name instead of the address's host.
func WithServerName(name string) Option { return func(o *options) { o.serverName = name } }

// WithTLSConfig uses config as it is (the file options are then ignored).
func WithTLSConfig(config *tls.Config) Option { return func(o *options) { o.tlsConfig = config } }

// WithInsecureLoopback talks plaintext; Dial refuses it unless the address is loopback.
func WithInsecureLoopback() Option { return func(o *options) { o.insecureLoopback = true } }

// WithNamespace is the namespace of targets and locks that name none (default: the caller's
// ServiceAccount namespace, as the server decides).
func WithNamespace(namespace string) Option { return func(o *options) { o.namespace = namespace } }

// WithCallTimeout bounds each unary call (default 10 s; Acquire: plus its wait).
func WithCallTimeout(d time.Duration) Option { return func(o *options) { o.callTimeout = d } }

func withBackoff(initial, max time.Duration) Option {
	return func(o *options) { o.backoffInitial, o.backoffMax = initial, max }
}

// Client is a connection to zen-lead's API. It is safe for concurrent use.
type Client struct {
	conn    *grpc.ClientConn
	leaders zenleadv1.LeadersClient
	locks   zenleadv1.LocksClient
	opts    options
}

// Dial prepares a connection to address (a gRPC target: "host:port", "dns:///host:port"). The
// connection itself is made on first use, and again whenever it breaks; ctx is not kept.
func Dial(ctx context.Context, address string, opts ...Option) (*Client, error) {
	o := options{callTimeout: callTimeout, backoffInitial: 200 * time.Millisecond, backoffMax: 10 * time.Second}
	for _, opt := range opts {
		opt(&o)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	tokens, err := newTokenSource(o)
	if err != nil {
		return nil, err
	}
	var transport credentials.TransportCredentials
	if o.insecureLoopback {
		if !isLoopback(address) {
			return nil, errorf("plaintext is for loopback addresses only, not %q", address)
		}
		transport = insecure.NewCredentials()
	} else {
		config, err := o.tls()
		if err != nil {
			return nil, err
		}
		transport = credentials.NewTLS(config)
	}
	conn, err := grpc.NewClient(address, grpc.WithTransportCredentials(transport), grpc.WithPerRPCCredentials(tokens))
	if err != nil {
		return nil, err
	}
	return &Client{conn: conn, leaders: zenleadv1.NewLeadersClient(conn), locks: zenleadv1.NewLocksClient(conn), opts: o}, nil
}

func (o options) tls() (*tls.Config, error) {
	if o.tlsConfig != nil {
		return o.tlsConfig, nil
	}
	config := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: o.serverName}
	if o.caFile != "" {
		pem, err := os.ReadFile(o.caFile)
		if err != nil {
			return nil, err
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, errorf("no certificate in %s", o.caFile)
		}
		config.RootCAs = pool
	}
	if (o.certFile == "") != (o.keyFile == "") {
		return nil, errorf("a client certificate needs both a certificate and a key file")
	}
	if o.certFile != "" {
		pair, err := tls.LoadX509KeyPair(o.certFile, o.keyFile)
		if err != nil {
			return nil, err
		}
		config.Certificates = []tls.Certificate{pair}
	}
	return config, nil
}

// Close closes the connection.
func (c *Client) Close() error { return c.conn.Close() }

// tokenSource sends the bearer token with every call (credentials.PerRPCCredentials).
type tokenSource struct {
	mu       sync.Mutex
	token    string
	file     string
	readAt   time.Time
	loopback bool
}

func newTokenSource(o options) (*tokenSource, error) {
	if o.token != "" && o.tokenFile != "" {
		return nil, errorf("give a token or a token file, not both")
	}
	t := &tokenSource{token: strings.TrimSpace(o.token), file: o.tokenFile, loopback: o.insecureLoopback}
	if o.token == "" && o.tokenFile == "" {
		if _, err := os.Stat(ServiceAccountToken); err == nil {
			t.file = ServiceAccountToken
		}
	}
	return t, nil
}

func (t *tokenSource) current() (string, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.file != "" && (t.readAt.IsZero() || time.Since(t.readAt) >= tokenRefresh) {
		data, err := os.ReadFile(t.file)
		if err != nil {
			return "", err
		}
		token := strings.TrimSpace(string(data))
		if token == "" {
			return "", errorf("token file %s is empty", t.file)
		}
		t.token, t.readAt = token, time.Now()
	}
	return t.token, nil
}

func (t *tokenSource) GetRequestMetadata(ctx context.Context, uri ...string) (map[string]string, error) {
	token, err := t.current()
	if err != nil || token == "" {
		return nil, err
	}
	return map[string]string{"authorization": "Bearer " + token}, nil
}

// RequireTransportSecurity: a token crosses no network in the clear (plaintext is loopback-only).
func (t *tokenSource) RequireTransportSecurity() bool { return !t.loopback }

func (c *Client) target(t Target) Target {
	if t.Namespace == "" {
		t.Namespace = c.opts.namespace
	}
	return t
}

func (c *Client) backoff() *backoff {
	return &backoff{initial: c.opts.backoffInitial, max: c.opts.backoffMax}
}

type backoff struct {
	initial, max time.Duration
	attempt      int
}

func (b *backoff) next() time.Duration {
	d := backoffDelay(b.attempt, b.initial, b.max, rand.Float64())
	b.attempt++
	return d
}

func (b *backoff) reset() { b.attempt = 0 }

func sleep(ctx context.Context, d time.Duration) error {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// LeaderOption configures Leader.
type LeaderOption func(*zenleadv1.GetLeaderRequest)

// RefuseStale makes Leader fail (codes.Unavailable) rather than answer from a stale view.
func RefuseStale() LeaderOption { return func(r *zenleadv1.GetLeaderRequest) { r.RefuseStale = true } }

// Leader answers who leads target now.
func (c *Client) Leader(ctx context.Context, target Target, opts ...LeaderOption) (State, error) {
	ctx, cancel := context.WithTimeout(ctx, c.opts.callTimeout)
	defer cancel()
	request := &zenleadv1.GetLeaderRequest{Target: targetToProto(c.target(target))}
	for _, opt := range opts {
		opt(request)
	}
	answer, err := c.leaders.Get(ctx, request)
	if err != nil {
		return State{}, err
	}
	return stateFromProto(answer), nil
}

// List answers every pool and Service (kind 0) or every target of one kind in namespace.
func (c *Client) List(ctx context.Context, namespace string, kind Kind) ([]State, error) {
	ctx, cancel := context.WithTimeout(ctx, c.opts.callTimeout)
	defer cancel()
	if namespace == "" {
		namespace = c.opts.namespace
	}
	answer, err := c.leaders.List(ctx, &zenleadv1.ListLeadersRequest{Namespace: namespace, Kind: zenleadv1.Kind(kind)})
	if err != nil {
		return nil, err
	}
	states := make([]State, 0, len(answer.GetLeaders()))
	for _, s := range answer.GetLeaders() {
		states = append(states, stateFromProto(s))
	}
	return states, nil
}

type watchOptions struct {
	afterTerm int64
	heartbeat time.Duration
}

// WatchOption configures Watch.
type WatchOption func(*watchOptions)

// AfterTerm resumes a watch: nothing with a lower term is passed on.
func AfterTerm(term int64) WatchOption { return func(o *watchOptions) { o.afterTerm = term } }

// Heartbeat asks the server for a heartbeat this often (at least 1 s; default 15 s).
func Heartbeat(d time.Duration) WatchOption { return func(o *watchOptions) { o.heartbeat = d } }

type callbackError struct{ err error }

func (e callbackError) Error() string { return e.err.Error() }

var errSilent = errors.New("zenlead: watch stream silent")

// Watch calls fn with target's state now and then with every change, until ctx is done (it returns
// ctx.Err()), fn returns an error (Watch returns it) or the server refuses the watch with a status
// that reconnecting cannot fix (returned as it is). Terms passed to fn never go backwards.
func (c *Client) Watch(ctx context.Context, target Target, fn func(State) error, opts ...WatchOption) error {
	o := watchOptions{heartbeat: HeartbeatDefault}
	for _, opt := range opts {
		opt(&o)
	}
	if o.heartbeat < time.Second {
		return errorf("heartbeat must be at least 1s (got %v)", o.heartbeat)
	}
	filter := termFilter{after: o.afterTerm}
	retry := c.backoff()
	for {
		err := c.watchOnce(ctx, c.target(target), o.heartbeat, &filter, retry, fn)
		var failed callbackError
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case errors.As(err, &failed):
			return failed.err
		case err == nil, errors.Is(err, io.EOF), errors.Is(err, errSilent), status.Code(err) == codes.Unavailable:
		default:
			return err
		}
		if err := sleep(ctx, retry.next()); err != nil {
			return err
		}
	}
}

type received[T any] struct {
	message T
	err     error
}

func (c *Client) watchOnce(ctx context.Context, target Target, heartbeat time.Duration, filter *termFilter, retry *backoff, fn func(State) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := c.leaders.Watch(ctx, &zenleadv1.WatchLeaderRequest{
		Target: targetToProto(target), AfterTerm: filter.after, HeartbeatSeconds: heartbeat.Seconds(),
	})
	if err != nil {
		return err
	}
	events := make(chan received[*zenleadv1.WatchEvent])
	go func() {
		for {
			event, err := stream.Recv()
			select {
			case events <- received[*zenleadv1.WatchEvent]{event, err}:
			case <-ctx.Done():
				return
			}
			if err != nil {
				return
			}
		}
	}()
	silence := time.NewTimer(watchSilence(heartbeat))
	defer silence.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-silence.C:
			return errSilent
		case r := <-events:
			if r.err != nil {
				return r.err
			}
			silence.Stop() // fn's time is not the server's silence
			retry.reset()
			state := stateFromProto(r.message.GetState())
			if filter.admit(state) {
				if err := fn(state); err != nil {
					return callbackError{err}
				}
			}
			silence.Reset(watchSilence(heartbeat))
		}
	}
}
