package e2e

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestDockerSpace runs a Docker Space on the OCI runner (podman): Haven
// builds the image from the Space's Dockerfile, runs it, serves it through
// the proxy, rebuilds it on a push, and pauses it. The base image is built
// here from a static busybox, since no registry is reachable.
func TestDockerSpace(t *testing.T) {
	podman, err := exec.LookPath("podman")
	if err != nil {
		skipOrFail(t, "podman is not installed")
	}
	busybox := "/bin/busybox"
	if _, err := os.Stat(busybox); err != nil {
		skipOrFail(t, "no static busybox (Debian: busybox-static)")
	}
	// A tag of its own: the engine's images outlive the test, and an image
	// left by an earlier run would be reused instead of built.
	base := fmt.Sprintf("localhost/haven-e2e-base:%d", time.Now().UnixNano())
	ctx := t.TempDir()
	b, _ := os.ReadFile(busybox)
	os.WriteFile(filepath.Join(ctx, "busybox"), b, 0o755)
	// The label keeps this image's layers its own: built from the same
	// busybox as runner/oci's test images, which build at the same time,
	// its layers would otherwise come from the build cache they share, and
	// removing this image could remove a layer one of their builds uses.
	os.WriteFile(filepath.Join(ctx, "Dockerfile"), []byte("FROM scratch\nLABEL haven.test.image="+base+"\nCOPY busybox /bin/busybox\nENTRYPOINT [\"/bin/busybox\"]\n"), 0o644)
	if out, err := exec.Command(podman, "build", "-q", "-t", base, ctx).CombinedOutput(); err != nil {
		t.Fatalf("building the base image: %v\n%s", err, out)
	}
	t.Cleanup(func() {
		// The Space's image (its workload is space-1: the server's first
		// repository), then the base it was built on.
		if ids, err := exec.Command(podman, "images", "-q", "--filter", "label=haven.workload=space-1").Output(); err == nil {
			for _, id := range strings.Fields(string(ids)) {
				exec.Command(podman, "rmi", "-f", id).Run()
			}
		}
		exec.Command(podman, "rmi", "-f", base).Run()
	})
	if out, err := exec.Command(podman, "run", "--rm", base, "true").CombinedOutput(); err != nil {
		t.Skipf("podman builds images but cannot run containers here: %s", tail(string(out), 300))
	}

	s := startServer(t, serverOpts{Args: []string{"--runner", "oci"}})
	s.createUser("alice", "Alice")
	a := s.api(s.createToken("alice", "write"))
	a.json("POST", "/api/repos/create", map[string]any{"name": "box", "type": "space", "sdk": "docker"}, http.StatusOK, nil)
	t.Cleanup(func() { a.do("POST", "/api/spaces/alice/box/pause", nil, nil) })
	page := func(text string) commitLine {
		return commitLine{Key: "file", Value: map[string]any{"path": "www/index.html", "content": b64([]byte(text)), "encoding": "base64"}}
	}
	dockerfile := "FROM " + base + "\nCOPY www /www\nCMD [\"httpd\", \"-f\", \"-p\", \"8080\", \"-h\", \"/www\"]\n"
	a.commit("spaces", "alice/box", "main", "app",
		commitLine{Key: "file", Value: map[string]any{"path": "README.md", "content": b64([]byte("---\nsdk: docker\napp_port: 8080\n---\n")), "encoding": "base64"}},
		commitLine{Key: "file", Value: map[string]any{"path": "Dockerfile", "content": b64([]byte(dockerfile)), "encoding": "base64"}},
		page("first version"))
	waitStage(t, a, "alice/box", "RUNNING", 3*time.Minute)
	serves := func(want string) {
		t.Helper()
		deadline := time.Now().Add(time.Minute)
		for {
			resp, body := a.do("GET", "/-/spaces/alice/box/", nil, nil)
			if resp.StatusCode == http.StatusOK && strings.Contains(string(body), want) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("the app answers %d %q, want %q", resp.StatusCode, truncate(body, 300), want)
			}
			time.Sleep(500 * time.Millisecond)
		}
	}
	serves("first version")
	if build := spaceLog(t, a, "alice/box", "build"); !strings.Contains(build, "COPY www /www") {
		t.Errorf("the build log lacks the engine's steps: %s", tail(build, 2000))
	}

	a.commit("spaces", "alice/box", "main", "v2", page("second version"))
	serves("second version")

	a.json("POST", "/api/spaces/alice/box/pause", nil, http.StatusOK, nil)
	if resp, _ := a.do("GET", "/-/spaces/alice/box/", nil, nil); resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("a paused Space answers %d", resp.StatusCode)
	}
}
