package spaces

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/gitstore"
	haverunner "github.com/havenhub/haven/runner"
)

// prepare reads the app configuration at sha and checks the revision's files
// out into base/{sha} (once: a checkout is reused by restarts and wakes).
func (s *Service) prepare(ctx context.Context, repo *haven.Repo, sha, base string) (*appConfig, string, error) {
	g, err := s.cfg.Git.Open(ctx, repo.Type, repo.RepoID())
	if err != nil {
		return nil, "", err
	}
	entries, err := g.List(sha, "", true)
	if err != nil {
		return nil, "", err
	}
	files := map[string]gitstore.Entry{}
	for _, e := range entries {
		if e.Type == gitstore.TypeFile {
			files[e.Path] = e
		}
	}
	readme, _ := g.ReadFile(sha, "README.md")
	cfg, err := parseConfig(readme, func(p string) bool { _, ok := files[p]; return ok })
	if err != nil {
		return nil, "", err
	}
	if cfg.SDK == SDKStatic {
		return cfg, "", nil
	}
	dst := filepath.Join(base, sha)
	if _, err := os.Stat(dst); err == nil {
		return cfg, dst, nil
	}
	if err := g.Checkout(ctx, sha, dst, s.cfg.Open); err != nil {
		return nil, "", err
	}
	return cfg, dst, nil
}

// pruneCheckouts removes the checkouts of revisions other than keep.
func (s *Service) pruneCheckouts(base, keep string) {
	entries, _ := os.ReadDir(base)
	for _, e := range entries {
		if e.Name() != keep && !strings.HasPrefix(e.Name(), ".") {
			os.RemoveAll(filepath.Join(base, e.Name()))
		}
	}
}

// appPrefix is the path prefix an app sees in its requests: Streamlit serves
// under its base URL path; Gradio and Docker apps get the prefix stripped.
func appPrefix(cfg *appConfig, repo *haven.Repo) string {
	if cfg.SDK == SDKStreamlit {
		return PathPrefix(repo)
	}
	return ""
}

// workload describes how the runner builds and runs an app, and how many
// GPUs its hardware asks for (handed out when it starts).
func (s *Service) workload(ctx context.Context, repo *haven.Repo, cfg *appConfig, files, dir string) (*haverunner.Workload, int, error) {
	read := func(name string) []string {
		b, err := os.ReadFile(filepath.Join(files, name))
		if err != nil {
			return nil
		}
		return requirementLines(b)
	}
	recipe := haverunner.Recipe{
		Python:          cfg.Python,
		PreRequirements: read("pre-requirements.txt"),
		Packages:        read("packages.txt"),
	}
	sdkReq := func(pkg string) string {
		if cfg.SDKVersion != "" {
			return pkg + "==" + cfg.SDKVersion
		}
		return pkg
	}
	// In a container the app must listen on every address for the engine's
	// published port to reach it; a local process listens on loopback only.
	bind := "127.0.0.1"
	if haverunner.BuildsImages(s.cfg.Runner) {
		bind = "0.0.0.0"
	}
	var cmd []string
	switch cfg.SDK {
	case SDKGradio:
		recipe.Requirements = append(read("requirements.txt"), sdkReq("gradio[oauth,mcp]"), "uvicorn>=0.14.0", "websockets>=10.4", "spaces")
		cmd = []string{"python", cfg.AppFile}
	case SDKStreamlit:
		recipe.Requirements = append(read("requirements.txt"), sdkReq("streamlit"))
		cmd = []string{"streamlit", "run", cfg.AppFile, "--server.port", "${PORT}", "--server.address", bind,
			"--server.headless", "true", "--server.enableXsrfProtection", "false", "--server.enableCORS", "false",
			"--server.baseUrlPath", PathPrefix(repo), "--browser.gatherUsageStats", "false"}
	case SDKDocker:
		recipe.Dockerfile = "Dockerfile"
	}

	a := s.lookupApp(repo.ID)
	hw := defaultFlavor
	if a != nil && a.st.Hardware != "" {
		hw = a.st.Hardware
	}
	fl, ok := s.flavors().Lookup(hw)
	if !ok {
		// A GPU flavor chosen on a machine that no longer has the GPUs.
		fl, _ = s.flavors().Lookup(defaultFlavor)
	}
	limits := fl.Limits()

	env := map[string]string{}
	vars, err := s.cfg.Meta.SpaceEnv(ctx, repo.ID, false)
	if err != nil {
		return nil, 0, err
	}
	for _, v := range vars {
		env[v.Key] = v.Value
	}
	secrets := map[string]string{}
	sealed, err := s.cfg.Meta.SpaceEnv(ctx, repo.ID, true)
	if err != nil {
		return nil, 0, err
	}
	for _, v := range sealed {
		plain, err := s.seal.open(repo.ID, v.Key, v.Value)
		if err != nil {
			return nil, 0, err
		}
		secrets[v.Key] = plain
	}
	host := strings.TrimRight(s.Host(repo), "/")
	hostOnly := strings.TrimPrefix(strings.TrimPrefix(host, "https://"), "http://")
	for k, v := range map[string]string{
		"SYSTEM":                   "spaces",
		"SPACE_ID":                 repo.FullName(),
		"SPACE_AUTHOR_NAME":        repo.Namespace,
		"SPACE_REPO_NAME":          repo.Name,
		"SPACE_TITLE":              cfg.Title,
		"SPACE_HOST":               hostOnly,
		"ACCELERATOR":              "none",
		"CPU_CORES":                fmt.Sprint(int(limits.CPUs)),
		"MEMORY":                   fmt.Sprintf("%dGi", limits.MemoryMB>>10),
		"HF_ENDPOINT":              strings.TrimRight(s.cfg.PublicURL, "/"),
		"HF_HUB_DISABLE_TELEMETRY": "1",
		"PORT":                     "${PORT}",
		"GRADIO_SERVER_NAME":       bind,
		"GRADIO_SERVER_PORT":       "${PORT}",
		"GRADIO_ANALYTICS_ENABLED": "False",
		// Server-side rendering starts a Node server on ports of its own:
		// an app may listen on its one port only.
		"GRADIO_SSR_MODE":  "False",
		"PYTHONUNBUFFERED": "1",
	} {
		env[k] = v
	}
	if len(cfg.Preload) > 0 && cfg.SDK != SDKDocker {
		env["HF_HUB_CACHE"] = "${APP}/" + preloadDir
	}
	if s.cfg.Domain == "" {
		// Served under a path: Gradio must build its URLs on it.
		env["GRADIO_ROOT_PATH"] = host
	}
	if runtime.GOOS != "linux" {
		return nil, 0, fmt.Errorf("spaces: unsupported platform %s", runtime.GOOS)
	}
	if err := os.MkdirAll(filepath.Join(dir, "data"), 0o755); err != nil {
		return nil, 0, err
	}
	return &haverunner.Workload{
		ID:      fmt.Sprintf("space-%d", repo.ID),
		Kind:    haverunner.KindSpace,
		Files:   files,
		Recipe:  recipe,
		Command: cmd,
		Env:     env,
		Secrets: secrets,
		Port:    cfg.AppPort,
		Limits:  limits,
		Data:    filepath.Join(dir, "data"),
	}, fl.GPUs, nil
}
