//go:build tools

// Package kubebins pins the Kubernetes control-plane binaries the local test
// cluster is built from. Nothing here is shipped; it only anchors the module graph.
package kubebins

import (
	_ "go.etcd.io/etcd/server/v3"
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
