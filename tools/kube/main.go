// Command kube is a multi-call binary: its first argument selects one upstream
// control-plane component (etcd, kube-apiserver, kube-controller-manager or
// kube-scheduler). Building them into one binary keeps the cold build to a
// single link of the shared dependency graph; each component still runs as its
// own process because their global registries clash inside one process.
package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
	"go.etcd.io/etcd/server/v3/etcdmain"
	"k8s.io/component-base/cli"
	apiserver "k8s.io/kubernetes/cmd/kube-apiserver/app"
	controllermanager "k8s.io/kubernetes/cmd/kube-controller-manager/app"
	scheduler "k8s.io/kubernetes/cmd/kube-scheduler/app"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: kube etcd|kube-apiserver|kube-controller-manager|kube-scheduler [flags]")
		os.Exit(2)
	}
	component, rest := os.Args[1], os.Args[2:]
	switch component {
	case "etcd":
		etcdmain.Main(append([]string{"etcd"}, rest...))
	case "kube-apiserver":
		run(apiserver.NewAPIServerCommand(), component, rest)
	case "kube-controller-manager":
		run(controllermanager.NewControllerManagerCommand(), component, rest)
	case "kube-scheduler":
		run(scheduler.NewSchedulerCommand(), component, rest)
	default:
		fmt.Fprintf(os.Stderr, "kube: unknown component %q\n", component)
		os.Exit(2)
	}
}

// run executes one cobra-based component with the remaining arguments.
func run(cmd *cobra.Command, name string, args []string) {
	cmd.Use = name
	cmd.SetArgs(args)
	os.Exit(cli.Run(cmd))
}
