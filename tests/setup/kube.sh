#!/usr/bin/env bash
# Builds the programs the operator tests run: etcd, kube-apiserver and kubectl from
# tests/kube/go.mod, and helm from tests/kube/helm/go.mod. Each binary lands in
# ~/.cache/accord/kube/<version>/ and is built only when it is missing there, so a warm
# cache costs nothing and a cold one builds everything from the pinned modules.
#
# ACCORD_KUBE_BIN overrides the folder; ACCORD_GO_JOBS sets `go build -p`, by default one
# job per core, as cargo does: a cold build is most of a CI run's time.
set -euo pipefail
cd "$(dirname "$0")/../kube"

if ! command -v go >/dev/null; then
  echo "go not found: install Go 1.25 or newer (https://go.dev/dl/)" >&2
  exit 1
fi

kubernetes=$(go list -m -f '{{.Version}}' k8s.io/kubernetes)
helm=$(cd helm && go list -m -f '{{.Version}}' helm.sh/helm/v4)
bin="${ACCORD_KUBE_BIN:-$HOME/.cache/accord/kube/$kubernetes-helm-$helm}"
jobs="${ACCORD_GO_JOBS:-$(nproc)}"
mkdir -p "$bin"

export GOFLAGS="-trimpath -buildvcs=false"
export CGO_ENABLED=0
started=$SECONDS

# build NAME PACKAGE [FOLDER]: go build PACKAGE into $bin/NAME unless it is there.
build() {
  local name=$1 package=$2 folder=${3:-.}
  if [[ -x "$bin/$name" ]]; then
    return
  fi
  local begun=$SECONDS
  (cd "$folder" && go build -p "$jobs" -ldflags='-s -w' -o "$bin/$name.partial" "$package")
  mv "$bin/$name.partial" "$bin/$name"
  echo "built $name in $((SECONDS - begun))s"
}

build etcd go.etcd.io/etcd/server/v3
build kube-apiserver k8s.io/kubernetes/cmd/kube-apiserver
build kubectl k8s.io/kubernetes/cmd/kubectl
build helm helm.sh/helm/v4/cmd/helm helm

echo "kube binaries ready in $bin ($((SECONDS - started))s)"
# The tests read this file to find the binaries.
mkdir -p "$HOME/.cache/accord/kube"
echo "$bin" > "$HOME/.cache/accord/kube/current"
