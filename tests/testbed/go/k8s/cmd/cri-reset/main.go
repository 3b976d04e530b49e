// Command cri-reset stops and removes every pod sandbox a CRI runtime holds,
// as kubelet would when its pods are deleted: the runtime kills the
// containers and tears down each pod's network (CNI DEL: veth, IP, netns).
// The test bed runs it before stopping containerd so that `down` leaves no
// shim, netns, interface or mount behind. crictl would do; it is not built here.
package main

import (
	"context"
	"flag"
	"log"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	runtime "k8s.io/cri-api/pkg/apis/runtime/v1"
)

func main() {
	endpoint := flag.String("endpoint", "", "unix:///path/to/containerd.sock")
	flag.Parse()
	conn, err := grpc.NewClient(*endpoint, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close()
	client := runtime.NewRuntimeServiceClient(conn)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	pods, err := client.ListPodSandbox(ctx, &runtime.ListPodSandboxRequest{})
	if err != nil {
		log.Fatalf("listing pod sandboxes: %v", err)
	}
	failed := false
	for _, pod := range pods.Items {
		name := pod.GetMetadata().GetNamespace() + "/" + pod.GetMetadata().GetName()
		if _, err := client.StopPodSandbox(ctx, &runtime.StopPodSandboxRequest{PodSandboxId: pod.Id}); err != nil {
			log.Printf("stopping %s: %v", name, err)
			failed = true
			continue
		}
		if _, err := client.RemovePodSandbox(ctx, &runtime.RemovePodSandboxRequest{PodSandboxId: pod.Id}); err != nil {
			log.Printf("removing %s: %v", name, err)
			failed = true
			continue
		}
		log.Printf("removed pod sandbox %s", name)
	}
	if failed {
		log.Fatal("some pod sandboxes could not be removed")
	}
}
