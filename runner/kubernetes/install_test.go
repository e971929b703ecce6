package kubernetes

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestInstallScript runs the init container's script with a stand-in for
// python that records what pip was asked and writes a package where pip
// would: the requirements end in their folder, renamed into place, and a
// second pod of the same recipe installs nothing.
func TestInstallScript(t *testing.T) {
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skip("no sh")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "bin")
	os.MkdirAll(bin, 0o755)
	calls := filepath.Join(dir, "calls")
	stub := `#!/bin/sh
echo "$@" >> ` + calls + `
if grep -q broken "$6"; then exit 1; fi
mkdir -p "$PYTHONUSERBASE/lib/site-packages/pkg"
cat "$6" > "$PYTHONUSERBASE/lib/site-packages/pkg/$(basename "$6")"
`
	if err := os.WriteFile(filepath.Join(bin, "python"), []byte(stub), 0o755); err != nil {
		t.Fatal(err)
	}
	files := filepath.Join(dir, "files")
	os.MkdirAll(files, 0o755)
	os.WriteFile(filepath.Join(files, "app.py"), []byte("print(1)\n"), 0o644)
	envs := filepath.Join(dir, "envs")
	os.MkdirAll(envs, 0o755)
	app := filepath.Join(dir, "home", "app")
	run := func(key, reqs string) error {
		t.Helper()
		// The pod's paths, moved under dir.
		script := strings.ReplaceAll(installScript, "/haven/files", files)
		cmd := exec.Command("sh", "-c", script)
		cmd.Env = []string{
			"PATH=" + bin + ":/usr/bin:/bin", "TMPDIR=" + dir,
			"HAVEN_APP=" + app, "HAVEN_ENVS=" + envs, "HAVEN_ENV_KEY=" + key,
			"HAVEN_PRE_REQUIREMENTS=torch", "HAVEN_REQUIREMENTS=" + reqs,
		}
		out, err := cmd.CombinedOutput()
		if err != nil {
			return fmt.Errorf("%v: %s", err, out)
		}
		return nil
	}
	if err := run("k1", "gradio==5.0\nnumpy"); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(app, "app.py")); err != nil || string(b) != "print(1)\n" {
		t.Fatalf("app files: %q %v", b, err)
	}
	env := filepath.Join(envs, "k1")
	if _, err := os.Stat(filepath.Join(env, readyFile)); err != nil {
		t.Fatal("the environment is not marked ready")
	}
	if b, _ := os.ReadFile(filepath.Join(env, "lib", "site-packages", "pkg", "requirements.txt")); string(b) != "gradio==5.0\nnumpy\n" {
		t.Fatalf("requirements %q", b)
	}
	b, _ := os.ReadFile(calls)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "-m pip install --user -r ") || !strings.HasSuffix(lines[0], "/pre-requirements.txt") ||
		!strings.HasSuffix(lines[1], "/requirements.txt") || strings.HasSuffix(lines[1], "pre-requirements.txt") {
		t.Fatalf("pip calls %q", b)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, "tmp.*")); len(left) != 0 {
		t.Fatalf("left behind: %v", left)
	}
	entries, _ := os.ReadDir(envs)
	if len(entries) != 1 {
		t.Fatalf("left in the environments' folder: %v", entries)
	}
	if err := run("k1", "gradio==5.0\nnumpy"); err != nil {
		t.Fatal(err)
	}
	if b2, _ := os.ReadFile(calls); string(b2) != string(b) {
		t.Fatal("a second pod installed again")
	}
	// A failed install fails the pod and leaves nothing half made.
	if err := run("k2", "broken"); err == nil {
		t.Fatal("a failed install succeeded")
	}
	if entries, _ := os.ReadDir(envs); len(entries) != 1 {
		t.Fatalf("left in the environments' folder: %v", entries)
	}
}
