//go:build tools

// Package tools names the program this module builds. It is never compiled.
package tools

import _ "helm.sh/helm/v4/cmd/helm"
