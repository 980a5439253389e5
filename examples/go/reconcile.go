package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/manager"
)

const (
	selectLabel = "example.zen-lead.io/go"         // the ConfigMaps this controller reconciles
	handledBy   = "example.zen-lead.io/handled-by" // <identity>#<token> of the tenure that handled it
)

// tenure holds this replica's fencing token: the Lease's leaseTransitions, read once after it was
// elected. Every new tenure (a new holder) increments leaseTransitions, whoever the candidates are
// (client-go, zen-lead), so a token is strictly greater than every earlier tenure's. controller-runtime
// never campaigns again after a loss (the process exits), so one token per process is enough.
type tenure struct {
	ready chan struct{} // closed once token is set
	token int64
}

// start waits for mgr.Elected(), then reads the token from the Lease (retrying until it can).
func (t *tenure) start(ctx context.Context, mgr manager.Manager, lease types.NamespacedName, identity string, retry time.Duration) {
	log := ctrl.Log.WithName("tenure")
	select {
	case <-mgr.Elected():
	case <-ctx.Done():
		return
	}
	for {
		var l coordinationv1.Lease
		err := mgr.GetAPIReader().Get(ctx, lease, &l) // uncached: the Lease as stored now
		if err == nil && (l.Spec.HolderIdentity == nil || *l.Spec.HolderIdentity != identity) {
			// We lost it already; controller-runtime's elector notices and the process exits.
			err = fmt.Errorf("the Lease is held by %q, not by us", ptrOr(l.Spec.HolderIdentity, ""))
		}
		if err == nil {
			t.token = int64(ptrOr(l.Spec.LeaseTransitions, 0))
			close(t.ready)
			log.Info("became leader", "identity", identity, "token", t.token)
			return
		}
		log.Error(err, "reading the fencing token")
		select {
		case <-time.After(retry):
		case <-ctx.Done():
			return
		}
	}
}

// wait returns the token once it is known (reconcilers start when elected, just before it is read).
func (t *tenure) wait(ctx context.Context) (int64, error) {
	select {
	case <-t.ready:
		return t.token, nil
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

type reconciler struct {
	client.Client
	identity string
	tenure   *tenure
}

// Reconcile writes handled-by with this tenure's token, fenced: it never overwrites a value that
// carries a higher token (a later leader's), and the write is conditional on the resourceVersion it
// checked (a 409 requeues), so a replica that lost the Lease without knowing it yet cannot undo a
// newer leader's work. Pass the token the same way to any system you write to.
func (r *reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	token, err := r.tenure.wait(ctx)
	if err != nil {
		return ctrl.Result{}, err
	}
	var cm corev1.ConfigMap
	if err := r.Get(ctx, req.NamespacedName, &cm); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	mine := fmt.Sprintf("%s#%d", r.identity, token)
	current := cm.Annotations[handledBy]
	if current == mine {
		return ctrl.Result{}, nil
	}
	log := ctrl.LoggerFrom(ctx)
	if seen, ok := tokenOf(current); ok && seen > token {
		log.Info("fenced: a later tenure handled it", "handledBy", current, "token", token)
		return ctrl.Result{}, nil
	}
	patch := client.MergeFromWithOptions(cm.DeepCopy(), client.MergeFromWithOptimisticLock{})
	if cm.Annotations == nil {
		cm.Annotations = map[string]string{}
	}
	cm.Annotations[handledBy] = mine
	if err := r.Patch(ctx, &cm, patch); err != nil {
		return ctrl.Result{}, err
	}
	log.Info("handled", "handledBy", mine, "token", token)
	return ctrl.Result{}, nil
}

// tokenOf parses the token out of "<identity>#<token>".
func tokenOf(value string) (int64, bool) {
	i := strings.LastIndexByte(value, '#')
	if i < 0 {
		return 0, false
	}
	n, err := strconv.ParseInt(value[i+1:], 10, 64)
	return n, err == nil
}

func ptrOr[T any](p *T, fallback T) T {
	if p == nil {
		return fallback
	}
	return *p
}
