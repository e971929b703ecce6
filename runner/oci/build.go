package oci

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/havenhub/haven/runner"
)

// imageVersion changes when the way images are built changes, so images
// built the old way are not reused.
const imageVersion = 1

// defaultPython is the interpreter of a recipe that names none, as on the
// Hub.
const defaultPython = "3.10"

// image is a built or pulled image.
type image struct {
	key    string
	ref    string // what `run` is given
	reused bool
}

func (i *image) Key() string  { return i.key }
func (i *image) Reused() bool { return i.reused }

// Build makes w's image: the recipe's Image pulled when absent, its
// Dockerfile built with the workload's files as context, or for a Python
// recipe a generated Dockerfile. An image is tagged haven-{key}, the key a
// hash of everything the build reads, so an unchanged workload reuses it.
func (r *Runner) Build(ctx context.Context, w *runner.Workload, fresh bool, log io.Writer) (runner.Build, error) {
	switch {
	case w.Recipe.Image != "":
		return r.pull(ctx, w.Recipe.Image, fresh, log)
	case w.Recipe.Dockerfile != "":
		return r.buildDockerfile(ctx, w, fresh, log)
	}
	return r.buildPython(ctx, w, fresh, log)
}

// pull fetches ref unless it is already there (a factory rebuild fetches
// it again, falling back to the copy at hand).
func (r *Runner) pull(ctx context.Context, ref string, fresh bool, log io.Writer) (runner.Build, error) {
	present := r.imageExists(ctx, ref)
	if present && !fresh {
		return &image{key: ref, ref: ref, reused: true}, nil
	}
	fmt.Fprintf(log, "Pulling %s\n", ref)
	if err := r.stream(ctx, log, "pull", ref); err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if !present {
			return nil, &runner.Error{Message: fmt.Sprintf("Could not pull the image %s: %v", ref, err)}
		}
		fmt.Fprintf(log, "WARNING: could not pull %s again (%v); using the copy already here\n", ref, err)
	}
	return &image{key: ref, ref: ref, reused: present}, nil
}

// buildDockerfile builds the workload's own Dockerfile with its files as
// context. The Env it declares with ARG is passed as build arguments and
// Secrets as build secrets (RUN --mount=type=secret,id=NAME), as on the
// Hub; secrets are not part of the key.
func (r *Runner) buildDockerfile(ctx context.Context, w *runner.Workload, fresh bool, log io.Writer) (runner.Build, error) {
	rel := filepath.Clean(filepath.FromSlash(w.Recipe.Dockerfile))
	if filepath.IsAbs(rel) || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return nil, &runner.Error{Message: fmt.Sprintf("The Dockerfile %s is outside the repository", w.Recipe.Dockerfile)}
	}
	files, err := filepath.Abs(w.Files)
	if err != nil {
		return nil, err
	}
	dockerfile := filepath.Join(files, rel)
	df, err := os.ReadFile(dockerfile)
	if err != nil {
		return nil, &runner.Error{Message: fmt.Sprintf("No %s in the repository", w.Recipe.Dockerfile)}
	}
	args := buildArgs(w, declaredArgs(df))
	h := sha256.New()
	fmt.Fprintf(h, "haven-image %d dockerfile %s\n", imageVersion, filepath.ToSlash(rel))
	for _, a := range args {
		fmt.Fprintf(h, "arg %q\n", a)
	}
	if err := hashTree(h, files); err != nil {
		return nil, fmt.Errorf("oci runner: reading the files: %w", err)
	}
	key := hex.EncodeToString(h.Sum(nil))[:32]
	if !fresh && r.imageExists(ctx, tag(key)) {
		return &image{key: key, ref: tag(key), reused: true}, nil
	}
	return r.buildImage(ctx, w, key, dockerfile, files, args, fresh, log)
}

// buildArgs are the --build-arg flags of a Dockerfile build: the
// workload's Env that the Dockerfile declares, "${PORT}" being its own
// port. Only declared ones, so that a variable the build never reads
// neither makes the engine warn nor changes the image's key.
func buildArgs(w *runner.Workload, declared map[string]bool) []string {
	keys := make([]string, 0, len(w.Env))
	for k := range w.Env {
		if declared[k] {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	var args []string
	for _, k := range keys {
		args = append(args, "--build-arg", k+"="+expandPort(w.Env[k], w.Port))
	}
	return args
}

// buildPython builds the image of a Python recipe (Gradio and Streamlit
// Spaces) from a generated Dockerfile, in a context holding the
// requirements and, under app/, the workload's files.
func (r *Runner) buildPython(ctx context.Context, w *runner.Workload, fresh bool, log io.Writer) (runner.Build, error) {
	df, err := pythonDockerfile(w.Recipe)
	if err != nil {
		return nil, err
	}
	pre := []byte(strings.Join(w.Recipe.PreRequirements, "\n") + "\n")
	reqs := []byte(strings.Join(w.Recipe.Requirements, "\n") + "\n")
	h := sha256.New()
	fmt.Fprintf(h, "haven-image %d python\n%s\n%q\n%q\n", imageVersion, df, pre, reqs)
	if err := hashTree(h, w.Files); err != nil {
		return nil, fmt.Errorf("oci runner: reading the files: %w", err)
	}
	key := hex.EncodeToString(h.Sum(nil))[:32]
	if !fresh && r.imageExists(ctx, tag(key)) {
		return &image{key: key, ref: tag(key), reused: true}, nil
	}
	dir, err := os.MkdirTemp(r.dir, "context-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	for name, b := range map[string][]byte{"Dockerfile": []byte(df), "pre-requirements.txt": pre, "requirements.txt": reqs} {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			return nil, err
		}
	}
	if err := runner.CopyTree(w.Files, filepath.Join(dir, "app"), true); err != nil {
		return nil, fmt.Errorf("oci runner: preparing the build context: %w", err)
	}
	return r.buildImage(ctx, w, key, filepath.Join(dir, "Dockerfile"), dir, nil, fresh, log)
}

// buildImage runs `{engine} build` of dockerfile in the folder ctxDir,
// tagging the image with key.
func (r *Runner) buildImage(ctx context.Context, w *runner.Workload, key, dockerfile, ctxDir string, extra []string, fresh bool, log io.Writer) (runner.Build, error) {
	ref := tag(key)
	args := []string{"build", "-f", dockerfile, "-t", ref, "--label", "haven.workload=" + w.ID}
	if fresh {
		args = append(args, "--no-cache")
	}
	args = append(args, extra...)
	if len(w.Secrets) > 0 && w.Recipe.Dockerfile != "" {
		dir, err := os.MkdirTemp(r.dir, "secrets-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(dir)
		flags, err := secretFiles(dir, w.Secrets, w.Port)
		if err != nil {
			return nil, err
		}
		args = append(args, flags...)
	}
	args = append(args, ctxDir)
	if err := r.stream(ctx, log, args...); err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, &runner.Error{Message: fmt.Sprintf("Could not build the image: %v", err)}
	}
	r.prune(ctx, w.ID, ref)
	return &image{key: key, ref: ref}, nil
}

// prune removes the images built before for workload id other than keep:
// each change of its files makes a new one. Those a container still uses
// (the instance serving while the next starts) stay, and go after a later
// build.
func (r *Runner) prune(ctx context.Context, id, keep string) {
	kept, err := r.output(ctx, "image", "inspect", "--format", "{{.Id}}", keep)
	if err != nil {
		return
	}
	ids, err := r.output(ctx, "images", "--no-trunc", "--filter", "label=haven.workload="+id, "--format", "{{.ID}}")
	if err != nil {
		return
	}
	for _, old := range strings.Fields(ids) {
		if strings.TrimPrefix(old, "sha256:") != strings.TrimPrefix(strings.TrimSpace(kept), "sha256:") {
			r.output(ctx, "rmi", old)
		}
	}
}

// declaredArgs are the names of a Dockerfile's ARG instructions.
func declaredArgs(df []byte) map[string]bool {
	names := map[string]bool{}
	for _, line := range strings.Split(string(df), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 || !strings.EqualFold(f[0], "ARG") {
			continue
		}
		for _, a := range f[1:] {
			name, _, _ := strings.Cut(a, "=")
			names[name] = true
		}
	}
	return names
}

// secretFiles writes each secret to a file of its own, readable by Haven
// only, and returns the --secret flags naming them: the values never
// appear on a command line.
func secretFiles(dir string, secrets map[string]string, port int) ([]string, error) {
	keys := make([]string, 0, len(secrets))
	for k := range secrets {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var flags []string
	for i, k := range keys {
		p := filepath.Join(dir, strconv.Itoa(i))
		if err := os.WriteFile(p, []byte(expandPort(secrets[k], port)), 0o600); err != nil {
			return nil, err
		}
		flags = append(flags, "--secret", "id="+k+",src="+p)
	}
	return flags, nil
}

// tag is the image name of a key.
func tag(key string) string { return "haven-" + key }

func (r *Runner) imageExists(ctx context.Context, ref string) bool {
	_, err := r.output(ctx, "image", "inspect", "--format", "{{.Id}}", ref)
	return err == nil
}

// stream runs the engine with its output, both streams, written to log
// line by line.
func (r *Runner) stream(ctx context.Context, log io.Writer, args ...string) error {
	pr, pw := io.Pipe()
	cmd := r.command(ctx, args...)
	cmd.Stdout, cmd.Stderr = pw, pw
	var last string
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := strings.TrimRight(sc.Text(), "\r")
			fmt.Fprintln(log, line)
			if strings.TrimSpace(line) != "" {
				last = line
			}
		}
		// Drain what a too long line left, so the engine never blocks.
		io.Copy(io.Discard, pr)
	}()
	err := cmd.Run()
	pw.Close()
	<-done
	if err != nil && last != "" {
		return fmt.Errorf("%s %s: %s", filepath.Base(r.engine), args[0], strings.TrimSpace(last))
	}
	if err != nil {
		return fmt.Errorf("%s %s: %w", filepath.Base(r.engine), args[0], err)
	}
	return nil
}

var (
	pythonVersion = regexp.MustCompile(`^[0-9]+(\.[0-9]+){0,2}$`)
	debianPackage = regexp.MustCompile(`^[a-z0-9][a-z0-9+.-]*(=[A-Za-z0-9.+:~-]+)?$`)
)

// pythonDockerfile is the Dockerfile of a Python recipe, close to the one
// the Hub generates: the slim Python image, Debian packages, the
// requirements installed before the app is copied (so a change to the app
// alone reuses the installed layers), and a user with uid 1000 owning
// /home/user/app.
func pythonDockerfile(rc runner.Recipe) (string, error) {
	py := rc.Python
	if py == "" {
		py = defaultPython
	}
	if !pythonVersion.MatchString(py) {
		return "", &runner.Error{Message: fmt.Sprintf("Invalid Python version %q", py)}
	}
	pkgs := append([]string{}, rc.Packages...)
	for _, p := range pkgs {
		if !debianPackage.MatchString(p) {
			return "", &runner.Error{Message: fmt.Sprintf("Invalid Debian package name %q in packages.txt", p)}
		}
	}
	// Requirements installed from git need git, which the slim image lacks.
	for _, q := range append(append([]string{}, rc.PreRequirements...), rc.Requirements...) {
		if strings.Contains(q, "git+") {
			pkgs = append(pkgs, "git")
			break
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "FROM docker.io/library/python:%s-slim\n", py)
	b.WriteString("ENV PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_ROOT_USER_ACTION=ignore PIP_DISABLE_PIP_VERSION_CHECK=1\n")
	if len(pkgs) > 0 {
		fmt.Fprintf(&b, "RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends %s && rm -rf /var/lib/apt/lists/*\n", strings.Join(pkgs, " "))
	}
	b.WriteString("RUN useradd -m -u 1000 user\n")
	b.WriteString("COPY pre-requirements.txt requirements.txt /tmp/haven/\n")
	if len(rc.PreRequirements) > 0 {
		b.WriteString("RUN pip install -r /tmp/haven/pre-requirements.txt\n")
	}
	if len(rc.Requirements) > 0 {
		b.WriteString("RUN pip install -r /tmp/haven/requirements.txt\n")
	}
	b.WriteString("USER user\n")
	b.WriteString("ENV HOME=/home/user PATH=/home/user/.local/bin:$PATH\n")
	b.WriteString("WORKDIR " + appDir + "\n")
	b.WriteString("COPY --chown=1000:1000 app/ " + appDir + "/\n")
	return b.String(), nil
}

// hashTree writes to h the names, kinds, executable bits and contents of
// everything under dir, in a fixed order.
func hashTree(h io.Writer, dir string) error {
	if dir == "" {
		return nil
	}
	return filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		rel = filepath.ToSlash(rel)
		switch {
		case d.IsDir():
			fmt.Fprintf(h, "dir %q\n", rel)
			return nil
		case d.Type()&fs.ModeSymlink != 0:
			l, err := os.Readlink(path)
			if err != nil {
				return err
			}
			fmt.Fprintf(h, "link %q %q\n", rel, l)
			return nil
		case !d.Type().IsRegular():
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		fh := sha256.New()
		if _, err := io.Copy(fh, f); err != nil {
			return err
		}
		fmt.Fprintf(h, "file %q %v %x\n", rel, fi.Mode()&0o111 != 0, fh.Sum(nil))
		return nil
	})
}

// appDir is where images built from a Python recipe keep the app, as the
// Hub's do.
const appDir = "/home/user/app"
