//go:build tools

// Package tools names the programs this module builds, so that go.mod and go.sum pin
// everything they need. It is never compiled.
package tools

import (
	_ "go.etcd.io/etcd/server/v3"
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
