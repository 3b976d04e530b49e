//go:build tools

// Package tools pins Velero's AWS object store plugin for the test bed's peer.
package tools

import (
	_ "github.com/vmware-tanzu/velero-plugin-for-aws/velero-plugin-for-aws"
)
