package spaces

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/havenhub/haven/card"
)

// The SDKs a Space card may name.
const (
	SDKGradio    = "gradio"
	SDKStreamlit = "streamlit"
	SDKDocker    = "docker"
	SDKStatic    = "static"
)

// Defaults the Hub applies when a card is silent.
const (
	defaultPython        = "3.10"
	defaultGradioPort    = 7860
	streamlitPort        = 8501
	defaultStartupWindow = 30 * time.Minute
)

// appConfig is what a Space's card and files say about how to run it.
type appConfig struct {
	SDK        string
	SDKVersion string
	Python     string
	AppFile    string
	AppPort    int
	Title      string
	Startup    time.Duration
	Headers    map[string]string // custom_headers allowed by the Hub
	NoEmbed    bool              // disable_embedding
	Preload    []string          // preload_from_hub entries
}

// configError is a card the Space cannot run with: stage CONFIG_ERROR, or
// NO_APP_FILE when noApp is set.
type configError struct {
	msg   string
	noApp bool
}

func (e *configError) Error() string { return e.msg }

var (
	pythonRE  = regexp.MustCompile(`^3\.\d{1,2}(\.\d{1,3})?$`)
	versionRE = regexp.MustCompile(`^[0-9][0-9A-Za-z.+!\-]*$`)
)

// customHeaders lists the only response headers a card may add.
var customHeaders = map[string]bool{
	"cross-origin-embedder-policy": true,
	"cross-origin-opener-policy":   true,
	"cross-origin-resource-policy": true,
}

// parseConfig reads the app configuration of a Space from its README and
// the list of files at the revision (has reports whether a path exists).
func parseConfig(readme []byte, has func(string) bool) (*appConfig, error) {
	var data map[string]any
	if readme != nil {
		c, err := card.Parse(readme)
		if err != nil {
			return nil, &configError{msg: "Invalid YAML metadata in README.md: " + err.Error()}
		}
		data = c.Data
	}
	str := func(k string) (string, error) {
		v, ok := data[k]
		if !ok || v == nil {
			return "", nil
		}
		switch x := v.(type) {
		case string:
			return strings.TrimSpace(x), nil
		case float64, int, int64:
			return fmt.Sprint(x), nil
		}
		return "", &configError{msg: fmt.Sprintf("Invalid %s in README.md: expected a string", k)}
	}
	cfg := &appConfig{Headers: map[string]string{}}
	var err error
	if cfg.SDK, err = str("sdk"); err != nil {
		return nil, err
	}
	switch cfg.SDK {
	case SDKGradio, SDKStreamlit, SDKDocker, SDKStatic:
	case "":
		return nil, &configError{msg: "Missing configuration in README.md: the card must set sdk (gradio, streamlit, docker or static)"}
	default:
		return nil, &configError{msg: fmt.Sprintf("Invalid sdk %q in README.md: expected gradio, streamlit, docker or static", cfg.SDK)}
	}
	if cfg.SDKVersion, err = str("sdk_version"); err != nil {
		return nil, err
	}
	if cfg.SDKVersion != "" && !versionRE.MatchString(cfg.SDKVersion) {
		return nil, &configError{msg: fmt.Sprintf("Invalid sdk_version %q in README.md", cfg.SDKVersion)}
	}
	if cfg.Python, err = str("python_version"); err != nil {
		return nil, err
	}
	if cfg.Python == "" {
		cfg.Python = defaultPython
	} else if !pythonRE.MatchString(cfg.Python) {
		return nil, &configError{msg: fmt.Sprintf("Invalid python_version %q in README.md: expected 3.x or 3.x.y", cfg.Python)}
	}
	if cfg.Title, err = str("title"); err != nil {
		return nil, err
	}
	if cfg.AppFile, err = str("app_file"); err != nil {
		return nil, err
	}
	if cfg.AppFile == "" {
		switch cfg.SDK {
		case SDKStatic:
			cfg.AppFile = "index.html"
		case SDKDocker:
			cfg.AppFile = "Dockerfile"
		default:
			cfg.AppFile = "app.py"
		}
	}
	cfg.AppFile = strings.TrimPrefix(cfg.AppFile, "./")
	if strings.HasPrefix(cfg.AppFile, "/") || strings.Contains("/"+cfg.AppFile+"/", "/../") {
		return nil, &configError{msg: fmt.Sprintf("Invalid app_file %q in README.md: it must be a path inside the repository", cfg.AppFile)}
	}
	need := cfg.AppFile
	if cfg.SDK == SDKDocker {
		need = "Dockerfile"
	}
	if !has(need) {
		return nil, &configError{noApp: true, msg: fmt.Sprintf("No application file: %s is not in the repository", need)}
	}
	switch cfg.SDK {
	case SDKStreamlit:
		cfg.AppPort = streamlitPort
	default:
		cfg.AppPort = defaultGradioPort
	}
	if v, ok := data["app_port"]; ok && cfg.SDK == SDKDocker {
		p, ok := portNumber(v)
		if !ok {
			return nil, &configError{msg: fmt.Sprintf("Invalid app_port %v in README.md: expected a port number", v)}
		}
		cfg.AppPort = p
	}
	cfg.Startup = defaultStartupWindow
	if s, err := str("startup_duration_timeout"); err != nil {
		return nil, err
	} else if s != "" {
		d, err := parseDuration(s)
		if err != nil {
			return nil, &configError{msg: fmt.Sprintf("Invalid startup_duration_timeout %q in README.md: %v", s, err)}
		}
		cfg.Startup = d
	}
	if h, ok := data["custom_headers"].(map[string]any); ok {
		for k, v := range h {
			lk := strings.ToLower(k)
			if !customHeaders[lk] {
				return nil, &configError{msg: fmt.Sprintf("Invalid custom_headers in README.md: %s is not allowed (only cross-origin-embedder-policy, cross-origin-opener-policy and cross-origin-resource-policy)", k)}
			}
			cfg.Headers[lk] = fmt.Sprint(v)
		}
	}
	cfg.NoEmbed, _ = data["disable_embedding"].(bool)
	if list, ok := data["preload_from_hub"].([]any); ok {
		for _, v := range list {
			if s, ok := v.(string); ok {
				cfg.Preload = append(cfg.Preload, s)
			}
		}
	}
	return cfg, nil
}

// parseDuration reads the card's durations: "30m", "1h", "90s", "2d", or
// a number of seconds.
func parseDuration(s string) (time.Duration, error) {
	if n, err := strconv.Atoi(s); err == nil && n > 0 {
		return time.Duration(n) * time.Second, nil
	}
	if strings.HasSuffix(s, "d") {
		n, err := strconv.ParseFloat(strings.TrimSuffix(s, "d"), 64)
		if err == nil && n > 0 {
			return time.Duration(n * 24 * float64(time.Hour)), nil
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("expected a duration such as 30m or 1h")
	}
	return d, nil
}

// requirementLines reads a requirements file: one requirement per line,
// comments and blank lines dropped.
func requirementLines(b []byte) []string {
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		if i := strings.Index(line, " #"); i >= 0 {
			line = line[:i]
		}
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		out = append(out, line)
	}
	return out
}

// portNumber reads a card's port: an integer from 1 to 65535, as YAML
// gives it (an int) or as JSON would (a whole float64).
func portNumber(v any) (int, bool) {
	var p int
	switch x := v.(type) {
	case int:
		p = x
	case int64:
		p = int(x)
	case float64:
		if x != float64(int(x)) {
			return 0, false
		}
		p = int(x)
	default:
		return 0, false
	}
	return p, p >= 1 && p <= 65535
}
