package spaces

import (
	"strings"
	"testing"
	"time"
)

func TestParseConfig(t *testing.T) {
	files := map[string]bool{"app.py": true, "index.html": true, "main.py": true, "src/app.py": true}
	has := func(p string) bool { return files[p] }
	tests := []struct {
		name    string
		readme  string
		want    appConfig
		wantErr string // substring; "" for success
		noApp   bool
		docker  bool // the repository has a Dockerfile
	}{
		{name: "gradio defaults", readme: "---\nsdk: gradio\nsdk_version: 5.9.1\n---\n",
			want: appConfig{SDK: "gradio", SDKVersion: "5.9.1", Python: "3.10", AppFile: "app.py", AppPort: 7860, Startup: 30 * time.Minute}},
		{name: "streamlit port", readme: "---\nsdk: streamlit\napp_file: main.py\npython_version: \"3.11\"\n---\n",
			want: appConfig{SDK: "streamlit", Python: "3.11", AppFile: "main.py", AppPort: 8501, Startup: 30 * time.Minute}},
		{name: "static", readme: "---\nsdk: static\n---\n",
			want: appConfig{SDK: "static", Python: "3.10", AppFile: "index.html", AppPort: 7860, Startup: 30 * time.Minute}},
		{name: "app in a folder", readme: "---\nsdk: gradio\napp_file: ./src/app.py\nstartup_duration_timeout: 1h\n---\n",
			want: appConfig{SDK: "gradio", Python: "3.10", AppFile: "src/app.py", AppPort: 7860, Startup: time.Hour}},
		{name: "docker port", readme: "---\nsdk: docker\napp_port: 8080\n---\n", docker: true,
			want: appConfig{SDK: "docker", Python: "3.10", AppFile: "Dockerfile", AppPort: 8080, Startup: 30 * time.Minute}},
		{name: "docker bad port", readme: "---\nsdk: docker\napp_port: 70000\n---\n", docker: true, wantErr: "Invalid app_port"},
		{name: "docker port as text", readme: "---\nsdk: docker\napp_port: web\n---\n", docker: true, wantErr: "Invalid app_port"},
		{name: "no card", readme: "", wantErr: "must set sdk"},
		{name: "unknown sdk", readme: "---\nsdk: flask\n---\n", wantErr: `Invalid sdk "flask"`},
		{name: "bad python", readme: "---\nsdk: gradio\npython_version: \"2.7\"\n---\n", wantErr: "Invalid python_version"},
		{name: "bad python text", readme: "---\nsdk: gradio\npython_version: latest\n---\n", wantErr: "Invalid python_version"},
		{name: "missing app file", readme: "---\nsdk: gradio\napp_file: nope.py\n---\n", wantErr: "nope.py is not in the repository", noApp: true},
		{name: "docker needs a Dockerfile", readme: "---\nsdk: docker\n---\n", wantErr: "Dockerfile", noApp: true},
		{name: "escaping app file", readme: "---\nsdk: gradio\napp_file: ../etc/passwd\n---\n", wantErr: "inside the repository"},
		{name: "bad yaml", readme: "---\nsdk: [gradio\n---\n", wantErr: "Invalid YAML"},
		{name: "bad header", readme: "---\nsdk: gradio\ncustom_headers:\n  x-powered-by: me\n---\n", wantErr: "not allowed"},
		{name: "bad startup", readme: "---\nsdk: gradio\nstartup_duration_timeout: soon\n---\n", wantErr: "startup_duration_timeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var readme []byte
			if tt.readme != "" {
				readme = []byte(tt.readme)
			}
			got, err := parseConfig(readme, func(p string) bool { return has(p) || tt.docker && p == "Dockerfile" })
			if tt.wantErr != "" {
				ce, ok := err.(*configError)
				if !ok || !strings.Contains(ce.msg, tt.wantErr) || ce.noApp != tt.noApp {
					t.Fatalf("parseConfig = %+v, %v; want a config error with %q (noApp %v)", got, err, tt.wantErr, tt.noApp)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got.Headers = nil
			if got.SDK != tt.want.SDK || got.SDKVersion != tt.want.SDKVersion || got.Python != tt.want.Python ||
				got.AppFile != tt.want.AppFile || got.AppPort != tt.want.AppPort || got.Startup != tt.want.Startup {
				t.Fatalf("parseConfig = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestRequirementLines(t *testing.T) {
	got := requirementLines([]byte("# deps\nnumpy==2.0  # pinned\n\n  pandas\r\n-e .\n"))
	want := []string{"numpy==2.0", "pandas", "-e ."}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("requirementLines = %q, want %q", got, want)
	}
}

func TestSubdomain(t *testing.T) {
	tests := []struct{ ns, name, want string }{
		{"user", "tmp_test_space", "user-tmp-test-space"},
		{"NimaBoscarino", "hotdog-gradio", "nimaboscarino-hotdog-gradio"},
		{"a", "b.c", "a-b-c"},
	}
	for _, tt := range tests {
		if got := subdomain(repoNamed(tt.ns, tt.name)); got != tt.want {
			t.Errorf("subdomain(%s/%s) = %q, want %q", tt.ns, tt.name, got, tt.want)
		}
	}
	long := subdomain(repoNamed(strings.Repeat("n", 40), strings.Repeat("m", 40)))
	if len(long) > 63 || long == subdomain(repoNamed(strings.Repeat("n", 40), strings.Repeat("m", 41))) {
		t.Errorf("long ids must give distinct labels of at most 63 characters: %q", long)
	}
}
