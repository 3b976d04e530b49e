// Command openstorage-emulator is the test bed's stand-in for Portworx: an EMULATOR of the
// OpenStorage v1 REST API (the one Portworx serves on port 9001), not OpenStorage itself.
// The real osd daemon cannot be built here (see tests/testbed/README.md). Routes, query
// parameters, status codes and the shape of request and response bodies follow upstream's
// api/server/volume.go and api/api.go (OptName "Name", OptVolumeID "VolumeID", OptLabel
// "Label", OptSnapID "SnapID"); the types are written from the spec, with upstream's JSON
// field names. Driver errors come back as HTTP 200 with volume_response.error set, as
// upstream does; malformed requests as plain-text 4xx bodies.
//
// Each volume is a directory under -data/<id> (a snapshot is a copy of it), so tests can
// write files into a volume and compare checksums after a restore. State is kept in
// -data/state.json. Left out: attach/mount, stats, cloud backups, credentials, groups, the
// SDK (gRPC) API, and every spec field's meaning (specs are stored as given).
package main

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"
)

type locator struct {
	Name         string            `json:"name"`
	VolumeLabels map[string]string `json:"volume_labels,omitempty"`
}

type source struct {
	Parent string `json:"parent,omitempty"`
	Seed   string `json:"seed,omitempty"`
}

type volume struct {
	ID       string                 `json:"id"`
	Source   *source                `json:"source,omitempty"`
	Readonly bool                   `json:"readonly"`
	Locator  locator                `json:"locator"`
	Ctime    string                 `json:"ctime"`
	Spec     map[string]interface{} `json:"spec"`
	Status   string                 `json:"status"`
	State    string                 `json:"state"`
}

type volumeResponse struct {
	Error string `json:"error,omitempty"`
}

type volumeCreateResponse struct {
	ID             string          `json:"id"`
	VolumeResponse *volumeResponse `json:"volume_response,omitempty"`
}

type server struct {
	mu      sync.Mutex
	data    string
	token   string
	volumes map[string]*volume
}

func main() {
	listen := flag.String("listen", "127.0.0.1:9001", "address to listen on")
	data := flag.String("data", "", "directory for volumes and state")
	token := flag.String("token", "", "bearer token every request must carry (empty: no auth)")
	flag.Parse()
	s := &server{data: *data, token: *token, volumes: map[string]*volume{}}
	if b, err := os.ReadFile(s.statePath()); err == nil {
		if err := json.Unmarshal(b, &s.volumes); err != nil {
			log.Fatalf("state: %v", err)
		}
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/osd-volumes/versions", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, []string{"v1"})
	})
	mux.HandleFunc("POST /v1/osd-volumes", s.create)
	mux.HandleFunc("GET /v1/osd-volumes", s.enumerate)
	mux.HandleFunc("GET /v1/osd-volumes/{id}", s.inspect)
	mux.HandleFunc("DELETE /v1/osd-volumes/{id}", s.remove)
	mux.HandleFunc("POST /v1/osd-snapshot", s.snap)
	mux.HandleFunc("GET /v1/osd-snapshot", s.snapEnumerate)
	mux.HandleFunc("POST /v1/osd-snapshot/restore/{id}", s.restore)
	log.Printf("openstorage emulator listening on %s, data in %s", *listen, *data)
	log.Fatal(http.ListenAndServe(*listen, s.auth(mux)))
}

// auth: with a token set, a request without "Authorization: Bearer <token>" is refused
// the way Portworx's security does (401 without credentials, 403 with wrong ones).
func (s *server) auth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		log.Printf("%s %s", r.Method, r.URL.RequestURI())
		if s.token != "" {
			given := r.Header.Get("Authorization")
			if given == "" {
				http.Error(w, "Access denied: missing authorization token", http.StatusUnauthorized)
				return
			}
			scheme, value, _ := strings.Cut(given, " ")
			if !strings.EqualFold(scheme, "bearer") || value != s.token {
				http.Error(w, "Access denied: token is not valid", http.StatusForbidden)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

func writeJSON(w http.ResponseWriter, v interface{}) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}

func (s *server) statePath() string { return filepath.Join(s.data, "state.json") }
func (s *server) dir(id string) string { return filepath.Join(s.data, "volumes", id) }

func (s *server) save() error {
	b, err := json.MarshalIndent(s.volumes, "", " ")
	if err != nil {
		return err
	}
	tmp := s.statePath() + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, s.statePath())
}

func newID() string {
	b := make([]byte, 8)
	rand.Read(b)
	// Portworx volume ids are large decimal numbers; any opaque string does here.
	return fmt.Sprintf("%d", (uint64(b[0])<<56|uint64(b[1])<<48|uint64(b[2])<<40|uint64(b[3])<<32|
		uint64(b[4])<<24|uint64(b[5])<<16|uint64(b[6])<<8|uint64(b[7]))>>1) + "-" + hex.EncodeToString(b[:2])
}

func (s *server) nameTaken(name string) bool {
	for _, v := range s.volumes {
		if v.Locator.Name == name {
			return true
		}
	}
	return false
}

// newVolume creates a volume directory, a copy of parent's when parent is set. Callers hold mu.
func (s *server) newVolume(loc locator, spec map[string]interface{}, parent string, readonly bool) (*volume, error) {
	if loc.Name != "" && s.nameTaken(loc.Name) {
		return nil, fmt.Errorf("Volume with name %s already exists", loc.Name)
	}
	id := newID()
	if loc.Name == "" {
		loc.Name = id
	}
	v := &volume{ID: id, Locator: loc, Readonly: readonly, Spec: spec, Ctime: time.Now().UTC().Format(time.RFC3339),
		Status: "VOLUME_STATUS_UP", State: "VOLUME_STATE_DETACHED"}
	if v.Spec == nil {
		v.Spec = map[string]interface{}{}
	}
	if parent != "" {
		p, ok := s.volumes[parent]
		if !ok {
			return nil, fmt.Errorf("Volume with ID: %s is not found", parent)
		}
		v.Source = &source{Parent: parent}
		if len(spec) == 0 {
			v.Spec = p.Spec
		}
		if err := copyDir(s.dir(parent), s.dir(id)); err != nil {
			return nil, err
		}
	} else if err := os.MkdirAll(s.dir(id), 0o755); err != nil {
		return nil, err
	}
	s.volumes[id] = v
	return v, s.save()
}

func (s *server) create(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Locator *locator               `json:"locator"`
		Source  *source                `json:"source"`
		Spec    map[string]interface{} `json:"spec"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if req.Locator == nil {
		http.Error(w, "Must supply a volume locator", http.StatusBadRequest)
		return
	}
	parent := ""
	if req.Source != nil {
		parent = req.Source.Parent
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	res := volumeCreateResponse{}
	if v, err := s.newVolume(*req.Locator, req.Spec, parent, false); err != nil {
		res.VolumeResponse = &volumeResponse{Error: err.Error()}
	} else {
		res.ID = v.ID
		res.VolumeResponse = &volumeResponse{}
	}
	writeJSON(w, res)
}

func labelsMatch(have, want map[string]string) bool {
	for k, v := range want {
		if have[k] != v {
			return false
		}
	}
	return true
}

// filtered lists volumes (snapshots when snaps) matching Name, Label (JSON) and VolumeID.
func (s *server) filtered(w http.ResponseWriter, r *http.Request, snaps bool) {
	q := r.URL.Query()
	var labels map[string]string
	if l := q.Get("Label"); l != "" {
		if err := json.Unmarshal([]byte(l), &labels); err != nil {
			http.Error(w, "Failed to parse parse VolumeLabels: "+err.Error(), http.StatusBadRequest)
			return
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []*volume{}
	for _, v := range s.volumes {
		isSnap := v.Readonly
		if snaps != isSnap {
			continue
		}
		if name := q.Get("Name"); name != "" && v.Locator.Name != name {
			continue
		}
		if id := q.Get("VolumeID"); id != "" {
			// For snapshots VolumeID is the parent volume; for volumes it is the volume's own id.
			if (snaps && (v.Source == nil || v.Source.Parent != id)) || (!snaps && v.ID != id) {
				continue
			}
		}
		if !labelsMatch(v.Locator.VolumeLabels, labels) {
			continue
		}
		out = append(out, v)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	writeJSON(w, out)
}

func (s *server) enumerate(w http.ResponseWriter, r *http.Request)     { s.filtered(w, r, false) }
func (s *server) snapEnumerate(w http.ResponseWriter, r *http.Request) { s.filtered(w, r, true) }

func (s *server) inspect(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.volumes[r.PathValue("id")]
	if !ok {
		http.Error(w, fmt.Sprintf("Volume with ID: %s is not found", r.PathValue("id")), http.StatusNotFound)
		return
	}
	writeJSON(w, []*volume{v})
}

func (s *server) remove(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	s.mu.Lock()
	defer s.mu.Unlock()
	res := volumeResponse{}
	if _, ok := s.volumes[id]; !ok {
		res.Error = fmt.Sprintf("Volume with ID: %s is not found", id)
	} else {
		for _, other := range s.volumes {
			if other.Readonly && other.Source != nil && other.Source.Parent == id {
				res.Error = fmt.Sprintf("Volume %s has snapshots; delete them first", id)
			}
		}
		if res.Error == "" {
			delete(s.volumes, id)
			if err := os.RemoveAll(s.dir(id)); err != nil {
				res.Error = err.Error()
			} else if err := s.save(); err != nil {
				res.Error = err.Error()
			}
		}
	}
	writeJSON(w, res)
}

func (s *server) snap(w http.ResponseWriter, r *http.Request) {
	var req struct {
		ID       string   `json:"id"`
		Locator  *locator `json:"locator"`
		Readonly bool     `json:"readonly"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	loc := locator{}
	if req.Locator != nil {
		loc = *req.Locator
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	res := struct {
		VolumeCreateResponse volumeCreateResponse `json:"volume_create_response"`
	}{}
	if _, ok := s.volumes[req.ID]; !ok {
		res.VolumeCreateResponse.VolumeResponse = &volumeResponse{
			Error: fmt.Sprintf("Volume with ID: %s is not found", req.ID)}
	} else if v, err := s.newVolume(loc, nil, req.ID, req.Readonly); err != nil {
		res.VolumeCreateResponse.VolumeResponse = &volumeResponse{Error: err.Error()}
	} else {
		res.VolumeCreateResponse.ID = v.ID
	}
	writeJSON(w, res)
}

func (s *server) restore(w http.ResponseWriter, r *http.Request) {
	id, snapID := r.PathValue("id"), r.URL.Query().Get("SnapID")
	if snapID == "" {
		http.Error(w, "Missing SnapID param", http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	res := volumeResponse{}
	snap, ok := s.volumes[snapID]
	switch {
	case s.volumes[id] == nil:
		res.Error = fmt.Sprintf("Volume with ID: %s is not found", id)
	case !ok || !snap.Readonly:
		res.Error = fmt.Sprintf("Snapshot with ID: %s is not found", snapID)
	case snap.Source == nil || snap.Source.Parent != id:
		res.Error = fmt.Sprintf("Snapshot %s is not a snapshot of volume %s", snapID, id)
	default:
		tmp := s.dir(id) + ".restore"
		os.RemoveAll(tmp)
		if err := copyDir(s.dir(snapID), tmp); err != nil {
			res.Error = err.Error()
		} else if err := os.RemoveAll(s.dir(id)); err != nil {
			res.Error = err.Error()
		} else if err := os.Rename(tmp, s.dir(id)); err != nil {
			res.Error = err.Error()
		}
	}
	writeJSON(w, res)
}

func copyDir(from, to string) error {
	return filepath.Walk(from, func(path string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, path)
		target := filepath.Join(to, rel)
		switch {
		case info.IsDir():
			return os.MkdirAll(target, info.Mode().Perm()|0o700)
		case info.Mode().IsRegular():
			in, err := os.Open(path)
			if err != nil {
				return err
			}
			defer in.Close()
			out, err := os.OpenFile(target, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, info.Mode().Perm())
			if err != nil {
				return err
			}
			if _, err := io.Copy(out, in); err != nil {
				out.Close()
				return err
			}
			return out.Close()
		case info.Mode()&os.ModeSymlink != 0:
			link, err := os.Readlink(path)
			if err != nil {
				return err
			}
			return os.Symlink(link, target)
		}
		return nil
	})
}
