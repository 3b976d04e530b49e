//go:build tools

// Package tools pins Velero for the test bed's peer.
package tools

import (
	_ "github.com/vmware-tanzu/velero/cmd/velero"
)
