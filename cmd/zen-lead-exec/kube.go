package main

// Reaching the API: which kubeconfig, which namespace, who we are. Only the two typed group clients
// needed (coordination/v1 for the Lease, batch/v1 for --slot-from-job) are built, not the whole
// clientset: a smaller binary for an init container to copy.

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	batchclient "k8s.io/client-go/kubernetes/typed/batch/v1"
	coordinationclient "k8s.io/client-go/kubernetes/typed/coordination/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/klog/v2"
)

const serviceAccountNamespace = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"

// Clients are the API clients the wrapper uses.
type Clients struct {
	Coordination coordinationclient.CoordinationV1Interface
	Batch        batchclient.BatchV1Interface
	// contextNamespace is the kubeconfig context's namespace ("" when none or in-cluster).
	contextNamespace string
}

func init() {
	// client-go logs through klog (throttling notes, watch restarts). Every line on our stderr must be
	// ours, with our prefix: silence it. Warnings sent by the apiserver are dropped too.
	klog.LogToStderr(false)
	klog.SetOutput(io.Discard)
	rest.SetDefaultWarningHandler(rest.NoWarnings{})
}

// newClients loads the configuration: --kubeconfig, else $KUBECONFIG (both already in path, a list
// as kubectl reads it), else the in-cluster service account, else ~/.kube/config.
func newClients(path string) (*Clients, error) {
	var config *rest.Config
	contextNamespace := ""
	if path == "" {
		if inCluster, err := rest.InClusterConfig(); err == nil {
			config = inCluster
		} else {
			path = clientcmd.RecommendedHomeFile
		}
	}
	if config == nil {
		rules := &clientcmd.ClientConfigLoadingRules{Precedence: filepath.SplitList(path)}
		if len(rules.Precedence) == 1 {
			// One file: it must exist (clientcmd skips missing files of a list, as kubectl does).
			rules = &clientcmd.ClientConfigLoadingRules{ExplicitPath: path}
		}
		loaded := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{})
		var err error
		if config, err = loaded.ClientConfig(); err != nil {
			return nil, fmt.Errorf("cannot load kubeconfig %s: %w", path, err)
		}
		if raw, err := loaded.RawConfig(); err == nil {
			if context := raw.Contexts[raw.CurrentContext]; context != nil {
				contextNamespace = context.Namespace
			}
		}
	}
	config = rest.CopyConfig(config)
	config.UserAgent = "zen-lead-exec"
	// Renewals every retry period plus the watch must never wait in client-go's rate limiter: each
	// call's own time limit is what bounds it.
	config.QPS, config.Burst = 50, 100
	coordination, err := coordinationclient.NewForConfig(config)
	if err != nil {
		return nil, err
	}
	batch, err := batchclient.NewForConfig(config)
	if err != nil {
		return nil, err
	}
	return &Clients{Coordination: coordination, Batch: batch, contextNamespace: contextNamespace}, nil
}

// resolveNamespace: --namespace, else $POD_NAMESPACE, else the service account's, else the
// kubeconfig context's, else "default".
func resolveNamespace(flagValue string, clients *Clients) string {
	if flagValue != "" {
		return flagValue
	}
	if ns := os.Getenv("POD_NAMESPACE"); ns != "" {
		return ns
	}
	if data, err := os.ReadFile(serviceAccountNamespace); err == nil {
		if ns := strings.TrimSpace(string(data)); ns != "" {
			return ns
		}
	}
	if clients != nil && clients.contextNamespace != "" {
		return clients.contextNamespace
	}
	return "default"
}

// defaultIdentity is the pod name ($POD_NAME, else $HOSTNAME, else the host name) plus a random
// suffix: two containers of one pod, or a restarted process that finds its own old record, never
// pass for one another.
func defaultIdentity() string {
	base := os.Getenv("POD_NAME")
	if base == "" {
		base = os.Getenv("HOSTNAME")
	}
	if base == "" {
		base, _ = os.Hostname()
	}
	if base == "" {
		base = "candidate"
	}
	suffix := make([]byte, 4)
	_, _ = rand.Read(suffix) // never fails on Linux (getrandom)
	return base + "_" + hex.EncodeToString(suffix)
}
