// A controller-runtime controller whose replicas share a zen-lead Lease.
//
// A zen-lead Lease is a plain coordination.k8s.io/v1 Lease in client-go's format, so the replicas
// of this controller, zen-lead's Python LeaderElector and `zen-lead exec` can all be candidates on
// one Lease; with --identity=$POD_NAME and the pod annotated zen-lead/campaign: "true", it can be a
// pool's Lease as well. Only the leader reconciles: it patches every ConfigMap labelled
// example.zen-lead.io/go: "true" in --namespace with
//
//	example.zen-lead.io/handled-by: <identity>#<leaseTransitions>
//
// where leaseTransitions, read from the Lease once this replica leads, is the fencing token of its
// tenure (reconcile.go). See docs/integrations/go.md.
package main

import (
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/uuid"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
)

func main() {
	// --kubeconfig is registered by controller-runtime (pkg/client/config); in a pod it is not needed.
	namespace := flag.String("namespace", os.Getenv("POD_NAMESPACE"), "namespace of the ConfigMaps (default $POD_NAMESPACE)")
	lease := flag.String("lease", "go-controller", "the Lease to campaign on: a zen-lead Lease, or a pool's (the LeaderPolicy's name)")
	leaseNamespace := flag.String("lease-namespace", "", "namespace of the Lease (default --namespace)")
	identity := flag.String("identity", os.Getenv("POD_NAME"), "holder identity, unique per process; the pod's name in a pool (default $POD_NAME)")
	leaseDuration := flag.Duration("lease-duration", 15*time.Second, "how long a candidate waits before taking over a silent holder")
	renewDeadline := flag.Duration("renew-deadline", 10*time.Second, "how long the leader keeps trying to renew before it gives up")
	retryPeriod := flag.Duration("retry-period", 2*time.Second, "how often the leader renews and candidates retry")
	metricsAddr := flag.String("metrics-bind-address", "0", `metrics address ("0": off)`)
	logging := zap.Options{}
	logging.BindFlags(flag.CommandLine)
	flag.Parse()

	log := zap.New(zap.UseFlagOptions(&logging))
	ctrl.SetLogger(log)
	if *namespace == "" {
		fail(log, fmt.Errorf("--namespace (or $POD_NAMESPACE) is required"), "bad flags")
	}
	if *leaseNamespace == "" {
		*leaseNamespace = *namespace
	}
	if *identity == "" { // outside a pod: what controller-runtime would choose, <hostname>_<uuid>
		host, _ := os.Hostname()
		*identity = host + "_" + string(uuid.NewUUID())
	}

	config := ctrl.GetConfigOrDie()
	lock, err := leaseLock(config, *leaseNamespace, *lease, *identity, *renewDeadline)
	if err != nil {
		fail(log, err, "building the Lease lock")
	}
	mgr, err := ctrl.NewManager(config, ctrl.Options{
		// What a Kubebuilder / Operator SDK main.go sets: controller-runtime's own leader election
		// (client-go's leaderelection on a Lease). These three name zen-lead's Lease...
		LeaderElection:             true,
		LeaderElectionResourceLock: resourcelock.LeasesResourceLock, // "leases"
		LeaderElectionID:           *lease,
		LeaderElectionNamespace:    *leaseNamespace,
		// ...but controller-runtime would name this replica <hostname>_<uuid>, and a pool needs the
		// pod's own name: the lock below is the same Lease with our identity (when it is set,
		// controller-runtime uses it instead of building one from the three fields above).
		LeaderElectionResourceLockInterface: lock,
		// SIGTERM: stop the reconcilers, then write client-go's release record, so a standby (Go or
		// Python) takes over at once instead of after the lease duration. Safe because main exits
		// right after Start returns.
		LeaderElectionReleaseOnCancel: true,
		LeaseDuration:                 leaseDuration, // these three are used with a custom lock too
		RenewDeadline:                 renewDeadline,
		RetryPeriod:                   retryPeriod,
		Metrics:                       metricsserver.Options{BindAddress: *metricsAddr},
		// Cache (and so watch) only the labelled ConfigMaps of one namespace.
		Cache: cache.Options{
			DefaultNamespaces: map[string]cache.Config{*namespace: {}},
			ByObject: map[client.Object]cache.ByObject{
				&corev1.ConfigMap{}: {Label: labels.SelectorFromSet(labels.Set{selectLabel: "true"})},
			},
		},
	})
	if err != nil {
		fail(log, err, "creating the manager")
	}

	// klog-based loggers (client-go's leaderelection among them) log through ours via the context.
	ctx := ctrl.LoggerInto(ctrl.SetupSignalHandler(), log)
	t := &tenure{ready: make(chan struct{})}
	go t.start(ctx, mgr, types.NamespacedName{Namespace: *leaseNamespace, Name: *lease}, *identity, *retryPeriod)

	if err := ctrl.NewControllerManagedBy(mgr).
		For(&corev1.ConfigMap{}).
		Named("example-go").
		Complete(&reconciler{Client: mgr.GetClient(), identity: *identity, tenure: t}); err != nil {
		fail(log, err, "creating the controller")
	}

	log.Info("campaigning", "lease", *leaseNamespace+"/"+*lease, "identity", *identity)
	// Start returns nil after SIGTERM (reconcilers stopped, Lease released), and the error
	// "leader election lost" when a renewal failed for --renew-deadline: then exit at once, as
	// controller-runtime requires, before anyone else may lead. A supervisor restarts the process.
	if err := mgr.Start(ctx); err != nil {
		fail(log, err, "manager stopped")
	}
	log.Info("exited", "identity", *identity)
}

// leaseLock is the lock controller-runtime builds for LeaderElectionResourceLock "leases"
// (pkg/leaderelection/leader_election.go), with our identity: client-go's LeaseLock, on a client
// whose requests time out after max(renew deadline / 2, 1 s), so one hung request cannot use up the
// whole renew deadline. (No event recorder: the "became leader" Events are left out.)
func leaseLock(config *rest.Config, namespace, name, identity string, renewDeadline time.Duration) (resourcelock.Interface, error) {
	config = rest.AddUserAgent(rest.CopyConfig(config), "leader-election")
	config.Timeout = max(renewDeadline/2, time.Second)
	clients, err := kubernetes.NewForConfig(config)
	if err != nil {
		return nil, err
	}
	return resourcelock.New(resourcelock.LeasesResourceLock, namespace, name,
		clients.CoreV1(), clients.CoordinationV1(), resourcelock.ResourceLockConfig{Identity: identity})
}

func fail(log logr.Logger, err error, msg string) {
	log.Error(err, msg)
	os.Exit(1)
}
