package main

import (
	"os"

	"github.com/spf13/cobra"
)

// kubeOptions are the flags of --runner kubernetes.
type kubeOptions struct {
	kubeconfig  string // "" reads $KUBECONFIG, ~/.kube/config, else the pod's service account
	namespace   string // "" takes the configuration's
	claim       string // the PersistentVolumeClaim of the data folder
	pythonImage string
}

func addKubeFlags(cmd *cobra.Command, o *kubeOptions) {
	cmd.Flags().StringVar(&o.kubeconfig, "kubeconfig", "", "the cluster of --runner kubernetes, a kubeconfig file (default: $KUBECONFIG, ~/.kube/config, else the service account of the pod Haven runs in)")
	cmd.Flags().StringVar(&o.namespace, "kube-namespace", os.Getenv("HAVEN_KUBE_NAMESPACE"), "the namespace where --runner kubernetes creates workloads (default: the kubeconfig's, or the pod's own)")
	cmd.Flags().StringVar(&o.claim, "kube-claim", os.Getenv("HAVEN_KUBE_CLAIM"), "the PersistentVolumeClaim holding the data folder, through which workload pods see their files, /data and volumes (ReadWriteMany where pods run on several nodes)")
	cmd.Flags().StringVar(&o.pythonImage, "kube-python-image", os.Getenv("HAVEN_KUBE_PYTHON_IMAGE"), "the image of Python Spaces and engines on Kubernetes, {python} replaced by the version (default docker.io/library/python:{python}-slim)")
}
