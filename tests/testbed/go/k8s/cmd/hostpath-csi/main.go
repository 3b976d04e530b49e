// Command hostpath-csi is the test bed's CSI driver: a small controller-side
// driver with the on-disk behaviour of kubernetes-csi/csi-driver-host-path
// (each volume is a directory <statedir>/<volume id>, a snapshot is a gzipped
// tar <statedir>/<snapshot id>.snap, restore untars into a new directory,
// clone copies). The upstream module is not served by the Go module proxy this
// project can reach, so the test bed carries this one instead.
//
// It implements the Identity and Controller services that external-provisioner
// and external-snapshotter call, and the Node service kubelet calls: publishing
// bind-mounts the volume directory onto the pod's target path (read-only when
// asked). With --kubelet-registration-dir it registers itself with kubelet
// through the plugin registration socket (node-driver-registrar's job; that
// module is not served by the proxy either).
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/container-storage-interface/spec/lib/go/csi"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"
	registration "k8s.io/kubelet/pkg/apis/pluginregistration/v1"
)

type volume struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	SizeBytes int64  `json:"sizeBytes"`
	Path      string `json:"path"`
}

type snapshot struct {
	ID           string `json:"id"`
	Name         string `json:"name"`
	SourceVolume string `json:"sourceVolume"`
	SizeBytes    int64  `json:"sizeBytes"`
	CreatedUnix  int64  `json:"createdUnix"`
	Path         string `json:"path"`
}

type state struct {
	Volumes   map[string]*volume   `json:"volumes"`
	Snapshots map[string]*snapshot `json:"snapshots"`
}

type driver struct {
	csi.UnimplementedIdentityServer
	csi.UnimplementedControllerServer
	csi.UnimplementedNodeServer

	name, nodeID, stateDir string
	mu                     sync.Mutex
	st                     state
}

func newID() string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	h := hex.EncodeToString(b)
	return fmt.Sprintf("%s-%s-%s-%s-%s", h[:8], h[8:12], h[12:16], h[16:20], h[20:])
}

func (d *driver) statePath() string { return filepath.Join(d.stateDir, "state.json") }

func (d *driver) load() error {
	d.st = state{Volumes: map[string]*volume{}, Snapshots: map[string]*snapshot{}}
	data, err := os.ReadFile(d.statePath())
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return err
	}
	return json.Unmarshal(data, &d.st)
}

// save writes state.json atomically; callers hold d.mu.
func (d *driver) save() error {
	data, err := json.MarshalIndent(d.st, "", "  ")
	if err != nil {
		return err
	}
	tmp := d.statePath() + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, d.statePath())
}

func run(name string, args ...string) error {
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %v: %s", name, strings.Join(args, " "), err, out)
	}
	return nil
}

// Identity

func (d *driver) GetPluginInfo(context.Context, *csi.GetPluginInfoRequest) (*csi.GetPluginInfoResponse, error) {
	return &csi.GetPluginInfoResponse{Name: d.name, VendorVersion: "lifeboat-testbed"}, nil
}

func (d *driver) GetPluginCapabilities(context.Context, *csi.GetPluginCapabilitiesRequest) (*csi.GetPluginCapabilitiesResponse, error) {
	return &csi.GetPluginCapabilitiesResponse{Capabilities: []*csi.PluginCapability{{
		Type: &csi.PluginCapability_Service_{Service: &csi.PluginCapability_Service{
			Type: csi.PluginCapability_Service_CONTROLLER_SERVICE}},
	}}}, nil
}

func (d *driver) Probe(context.Context, *csi.ProbeRequest) (*csi.ProbeResponse, error) {
	return &csi.ProbeResponse{}, nil
}

// Controller

func (d *driver) ControllerGetCapabilities(context.Context, *csi.ControllerGetCapabilitiesRequest) (*csi.ControllerGetCapabilitiesResponse, error) {
	var caps []*csi.ControllerServiceCapability
	for _, c := range []csi.ControllerServiceCapability_RPC_Type{
		csi.ControllerServiceCapability_RPC_CREATE_DELETE_VOLUME,
		csi.ControllerServiceCapability_RPC_CREATE_DELETE_SNAPSHOT,
		csi.ControllerServiceCapability_RPC_LIST_SNAPSHOTS,
		csi.ControllerServiceCapability_RPC_CLONE_VOLUME,
	} {
		caps = append(caps, &csi.ControllerServiceCapability{Type: &csi.ControllerServiceCapability_Rpc{
			Rpc: &csi.ControllerServiceCapability_RPC{Type: c}}})
	}
	return &csi.ControllerGetCapabilitiesResponse{Capabilities: caps}, nil
}

func (d *driver) CreateVolume(_ context.Context, req *csi.CreateVolumeRequest) (*csi.CreateVolumeResponse, error) {
	if req.GetName() == "" {
		return nil, status.Error(codes.InvalidArgument, "name missing")
	}
	size := req.GetCapacityRange().GetRequiredBytes()
	if size == 0 {
		size = 1 << 30
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, v := range d.st.Volumes {
		if v.Name == req.GetName() {
			if v.SizeBytes < size {
				return nil, status.Errorf(codes.AlreadyExists, "volume %s exists with size %d", v.Name, v.SizeBytes)
			}
			return &csi.CreateVolumeResponse{Volume: d.csiVolume(v, req.GetVolumeContentSource())}, nil
		}
	}
	v := &volume{ID: newID(), Name: req.GetName(), SizeBytes: size}
	v.Path = filepath.Join(d.stateDir, v.ID)
	if err := os.MkdirAll(v.Path, 0o777); err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	}
	if err := d.populate(v, req.GetVolumeContentSource()); err != nil {
		os.RemoveAll(v.Path)
		return nil, err
	}
	d.st.Volumes[v.ID] = v
	if err := d.save(); err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	}
	log.Printf("created volume %s (%s, %d bytes)", v.ID, v.Name, v.SizeBytes)
	return &csi.CreateVolumeResponse{Volume: d.csiVolume(v, req.GetVolumeContentSource())}, nil
}

func (d *driver) populate(v *volume, src *csi.VolumeContentSource) error {
	switch {
	case src.GetSnapshot() != nil:
		s, ok := d.st.Snapshots[src.GetSnapshot().GetSnapshotId()]
		if !ok {
			return status.Errorf(codes.NotFound, "snapshot %s not found", src.GetSnapshot().GetSnapshotId())
		}
		if err := run("tar", "xzf", s.Path, "-C", v.Path); err != nil {
			return status.Error(codes.Internal, err.Error())
		}
	case src.GetVolume() != nil:
		s, ok := d.st.Volumes[src.GetVolume().GetVolumeId()]
		if !ok {
			return status.Errorf(codes.NotFound, "volume %s not found", src.GetVolume().GetVolumeId())
		}
		if err := run("cp", "-a", s.Path+"/.", v.Path); err != nil {
			return status.Error(codes.Internal, err.Error())
		}
	}
	return nil
}

func (d *driver) csiVolume(v *volume, src *csi.VolumeContentSource) *csi.Volume {
	return &csi.Volume{VolumeId: v.ID, CapacityBytes: v.SizeBytes, ContentSource: src}
}

func (d *driver) DeleteVolume(_ context.Context, req *csi.DeleteVolumeRequest) (*csi.DeleteVolumeResponse, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if v, ok := d.st.Volumes[req.GetVolumeId()]; ok {
		if err := os.RemoveAll(v.Path); err != nil {
			return nil, status.Error(codes.Internal, err.Error())
		}
		delete(d.st.Volumes, v.ID)
		if err := d.save(); err != nil {
			return nil, status.Error(codes.Internal, err.Error())
		}
		log.Printf("deleted volume %s", v.ID)
	}
	return &csi.DeleteVolumeResponse{}, nil
}

func (d *driver) ValidateVolumeCapabilities(_ context.Context, req *csi.ValidateVolumeCapabilitiesRequest) (*csi.ValidateVolumeCapabilitiesResponse, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.st.Volumes[req.GetVolumeId()]; !ok {
		return nil, status.Errorf(codes.NotFound, "volume %s not found", req.GetVolumeId())
	}
	return &csi.ValidateVolumeCapabilitiesResponse{Confirmed: &csi.ValidateVolumeCapabilitiesResponse_Confirmed{
		VolumeCapabilities: req.GetVolumeCapabilities()}}, nil
}

func (d *driver) csiSnapshot(s *snapshot) *csi.Snapshot {
	return &csi.Snapshot{SnapshotId: s.ID, SourceVolumeId: s.SourceVolume, SizeBytes: s.SizeBytes,
		CreationTime: timestamppb.New(time.Unix(s.CreatedUnix, 0)), ReadyToUse: true}
}

func (d *driver) CreateSnapshot(_ context.Context, req *csi.CreateSnapshotRequest) (*csi.CreateSnapshotResponse, error) {
	if req.GetName() == "" || req.GetSourceVolumeId() == "" {
		return nil, status.Error(codes.InvalidArgument, "name and source volume id are required")
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, s := range d.st.Snapshots {
		if s.Name == req.GetName() {
			if s.SourceVolume != req.GetSourceVolumeId() {
				return nil, status.Errorf(codes.AlreadyExists, "snapshot %s exists for volume %s", s.Name, s.SourceVolume)
			}
			return &csi.CreateSnapshotResponse{Snapshot: d.csiSnapshot(s)}, nil
		}
	}
	v, ok := d.st.Volumes[req.GetSourceVolumeId()]
	if !ok {
		return nil, status.Errorf(codes.NotFound, "volume %s not found", req.GetSourceVolumeId())
	}
	s := &snapshot{ID: newID(), Name: req.GetName(), SourceVolume: v.ID, SizeBytes: v.SizeBytes,
		CreatedUnix: time.Now().Unix()}
	s.Path = filepath.Join(d.stateDir, s.ID+".snap")
	if err := run("tar", "czf", s.Path, "-C", v.Path, "."); err != nil {
		os.Remove(s.Path)
		return nil, status.Error(codes.Internal, err.Error())
	}
	d.st.Snapshots[s.ID] = s
	if err := d.save(); err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	}
	log.Printf("created snapshot %s (%s) of volume %s", s.ID, s.Name, v.ID)
	return &csi.CreateSnapshotResponse{Snapshot: d.csiSnapshot(s)}, nil
}

func (d *driver) DeleteSnapshot(_ context.Context, req *csi.DeleteSnapshotRequest) (*csi.DeleteSnapshotResponse, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if s, ok := d.st.Snapshots[req.GetSnapshotId()]; ok {
		if err := os.Remove(s.Path); err != nil && !os.IsNotExist(err) {
			return nil, status.Error(codes.Internal, err.Error())
		}
		delete(d.st.Snapshots, s.ID)
		if err := d.save(); err != nil {
			return nil, status.Error(codes.Internal, err.Error())
		}
		log.Printf("deleted snapshot %s", s.ID)
	}
	return &csi.DeleteSnapshotResponse{}, nil
}

func (d *driver) ListSnapshots(_ context.Context, req *csi.ListSnapshotsRequest) (*csi.ListSnapshotsResponse, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	var entries []*csi.ListSnapshotsResponse_Entry
	for _, s := range d.st.Snapshots {
		if req.GetSnapshotId() != "" && s.ID != req.GetSnapshotId() {
			continue
		}
		if req.GetSourceVolumeId() != "" && s.SourceVolume != req.GetSourceVolumeId() {
			continue
		}
		entries = append(entries, &csi.ListSnapshotsResponse_Entry{Snapshot: d.csiSnapshot(s)})
	}
	return &csi.ListSnapshotsResponse{Entries: entries}, nil
}

// Node

func (d *driver) NodeGetInfo(context.Context, *csi.NodeGetInfoRequest) (*csi.NodeGetInfoResponse, error) {
	return &csi.NodeGetInfoResponse{NodeId: d.nodeID}, nil
}

func (d *driver) NodeGetCapabilities(context.Context, *csi.NodeGetCapabilitiesRequest) (*csi.NodeGetCapabilitiesResponse, error) {
	return &csi.NodeGetCapabilitiesResponse{}, nil
}

// mounted says whether target is a mount point, from this process's mount table.
func mounted(target string) (bool, error) {
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return false, err
	}
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) > 4 && f[4] == target {
			return true, nil
		}
	}
	return false, nil
}

func (d *driver) NodePublishVolume(_ context.Context, req *csi.NodePublishVolumeRequest) (*csi.NodePublishVolumeResponse, error) {
	target := req.GetTargetPath()
	if req.GetVolumeId() == "" || target == "" || req.GetVolumeCapability() == nil {
		return nil, status.Error(codes.InvalidArgument, "volume id, target path and capability are required")
	}
	if req.GetVolumeCapability().GetBlock() != nil {
		return nil, status.Error(codes.InvalidArgument, "block volumes are not supported")
	}
	d.mu.Lock()
	v, ok := d.st.Volumes[req.GetVolumeId()]
	d.mu.Unlock()
	if !ok {
		return nil, status.Errorf(codes.NotFound, "volume %s not found", req.GetVolumeId())
	}
	if err := os.MkdirAll(target, 0o750); err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	}
	if m, err := mounted(target); err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	} else if m {
		return &csi.NodePublishVolumeResponse{}, nil
	}
	if err := syscall.Mount(v.Path, target, "", syscall.MS_BIND, ""); err != nil {
		return nil, status.Errorf(codes.Internal, "bind-mounting %s on %s: %v", v.Path, target, err)
	}
	if req.GetReadonly() {
		// A bind mount takes MS_RDONLY only on a remount.
		if err := syscall.Mount("", target, "", syscall.MS_BIND|syscall.MS_REMOUNT|syscall.MS_RDONLY, ""); err != nil {
			syscall.Unmount(target, 0)
			return nil, status.Errorf(codes.Internal, "making %s read-only: %v", target, err)
		}
	}
	log.Printf("published volume %s on %s (read-only %v)", v.ID, target, req.GetReadonly())
	return &csi.NodePublishVolumeResponse{}, nil
}

func (d *driver) NodeUnpublishVolume(_ context.Context, req *csi.NodeUnpublishVolumeRequest) (*csi.NodeUnpublishVolumeResponse, error) {
	target := req.GetTargetPath()
	if req.GetVolumeId() == "" || target == "" {
		return nil, status.Error(codes.InvalidArgument, "volume id and target path are required")
	}
	if m, err := mounted(target); err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	} else if m {
		if err := syscall.Unmount(target, 0); err != nil {
			return nil, status.Errorf(codes.Internal, "unmounting %s: %v", target, err)
		}
	}
	if err := os.Remove(target); err != nil && !os.IsNotExist(err) {
		return nil, status.Error(codes.Internal, err.Error())
	}
	log.Printf("unpublished volume %s from %s", req.GetVolumeId(), target)
	return &csi.NodeUnpublishVolumeResponse{}, nil
}

// Plugin registration: kubelet watches its plugins_registry directory, calls GetInfo
// on each socket it finds and then talks CSI to the endpoint it is given.

type registrar struct {
	registration.UnimplementedRegistrationServer
	name, endpoint string
}

func (r *registrar) GetInfo(context.Context, *registration.InfoRequest) (*registration.PluginInfo, error) {
	return &registration.PluginInfo{Type: registration.CSIPlugin, Name: r.name, Endpoint: r.endpoint,
		SupportedVersions: []string{"1.0.0"}}, nil
}

func (r *registrar) NotifyRegistrationStatus(_ context.Context, s *registration.RegistrationStatus) (*registration.RegistrationStatusResponse, error) {
	if !s.PluginRegistered {
		log.Printf("kubelet refused the registration: %s", s.Error)
	} else {
		log.Printf("registered with kubelet")
	}
	return &registration.RegistrationStatusResponse{}, nil
}

func serveRegistration(dir, name, endpoint string) error {
	sock := filepath.Join(dir, name+"-reg.sock")
	os.Remove(sock)
	lis, err := net.Listen("unix", sock)
	if err != nil {
		return err
	}
	srv := grpc.NewServer()
	registration.RegisterRegistrationServer(srv, &registrar{name: name, endpoint: endpoint})
	go func() { log.Fatal(srv.Serve(lis)) }()
	return nil
}

func main() {
	endpoint := flag.String("endpoint", "", "unix:///path/to/csi.sock")
	name := flag.String("drivername", "hostpath.csi.k8s.io", "CSI driver name")
	nodeID := flag.String("nodeid", "n1", "node id")
	stateDir := flag.String("statedir", "", "directory holding volumes, snapshots and state.json")
	registrationDir := flag.String("kubelet-registration-dir", "", "kubelet's plugins_registry directory (empty: do not register)")
	flag.Parse()
	if !strings.HasPrefix(*endpoint, "unix://") || *stateDir == "" {
		log.Fatal("--endpoint=unix://PATH and --statedir are required")
	}
	d := &driver{name: *name, nodeID: *nodeID, stateDir: *stateDir}
	if err := os.MkdirAll(d.stateDir, 0o755); err != nil {
		log.Fatal(err)
	}
	if err := d.load(); err != nil {
		log.Fatalf("loading state: %v", err)
	}
	sock := strings.TrimPrefix(*endpoint, "unix://")
	os.Remove(sock)
	lis, err := net.Listen("unix", sock)
	if err != nil {
		log.Fatal(err)
	}
	srv := grpc.NewServer()
	csi.RegisterIdentityServer(srv, d)
	csi.RegisterControllerServer(srv, d)
	csi.RegisterNodeServer(srv, d)
	if *registrationDir != "" {
		if err := serveRegistration(*registrationDir, d.name, sock); err != nil {
			log.Fatalf("registration socket: %v", err)
		}
	}
	log.Printf("serving %s on %s, state in %s", d.name, sock, d.stateDir)
	log.Fatal(srv.Serve(lis))
}
