package jobs

import (
	"strings"
	"testing"
	"time"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/runner"
)

// fakeRunner names a backend; nothing is built or run in these tests.
type fakeRunner struct {
	runner.Runner
	name string
}

func (f fakeRunner) Name() string { return f.name }

func TestRecipeOfImages(t *testing.T) {
	s := &Service{cfg: Config{Runner: fakeRunner{name: "process"}}}
	tests := []struct {
		image string
		want  runner.Recipe
		err   string
	}{
		{"python:3.12", runner.Recipe{Python: "3.12"}, ""},
		{"python:3.11-slim", runner.Recipe{Python: "3.11"}, ""},
		{"python", runner.Recipe{Python: "3"}, ""},
		{"docker.io/library/python:3.10.4", runner.Recipe{Python: "3.10.4"}, ""},
		{"ghcr.io/astral-sh/uv:python3.12-bookworm", runner.Recipe{Python: "3.12", Requirements: []string{"uv==" + uvVersion}}, ""},
		{"ghcr.io/astral-sh/uv:latest", runner.Recipe{Python: "3", Requirements: []string{"uv==" + uvVersion}}, ""},
		{"ubuntu:24.04", runner.Recipe{}, ""},
		{"debian", runner.Recipe{}, ""},
		{"nginx:latest", runner.Recipe{}, "cannot run the image"},
		{"pythonic/evil:1", runner.Recipe{}, "cannot run the image"},
	}
	for _, tt := range tests {
		t.Run(tt.image, func(t *testing.T) {
			got, err := s.recipe(tt.image)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("recipe(%q) = %+v, %v; want an error with %q", tt.image, got, err, tt.err)
				}
				if !haven.IsCode(err, haven.EInvalid) {
					t.Errorf("error code: %v", err)
				}
				return
			}
			if err != nil || got.Python != tt.want.Python || strings.Join(got.Requirements, ",") != strings.Join(tt.want.Requirements, ",") {
				t.Errorf("recipe(%q) = %+v, %v; want %+v", tt.image, got, err, tt.want)
			}
		})
	}
	oci := &Service{cfg: Config{Runner: fakeRunner{name: "oci"}}}
	if r, err := oci.recipe("nginx:latest"); err != nil || r.Image != "nginx:latest" {
		t.Errorf("the OCI runner runs any image: %+v, %v", r, err)
	}
}

func TestParseSpec(t *testing.T) {
	s := &Service{cfg: Config{Runner: fakeRunner{name: "process"}}}
	str := func(v string) *string { return &v }
	secs := func(v float64) *float64 { return &v }
	tests := []struct {
		name string
		spec wireSpec
		err  string
	}{
		{"minimal", wireSpec{DockerImage: "python:3.12", Command: []string{"python", "-c", "1"}}, ""},
		{"no image nor space", wireSpec{Command: []string{"true"}}, "either a dockerImage or a spaceId"},
		{"image and space", wireSpec{DockerImage: "ubuntu", SpaceID: "a/b", Command: []string{"true"}}, "either a dockerImage or a spaceId"},
		{"no command", wireSpec{DockerImage: "ubuntu"}, "needs a command"},
		{"unknown flavor", wireSpec{DockerImage: "ubuntu", Command: []string{"true"}, Flavor: "a100x9"}, "Unknown hardware flavor"},
		{"bad label", wireSpec{DockerImage: "ubuntu", Command: []string{"true"}, Labels: map[string]string{"a b": "c"}}, "Invalid label key"},
		{"bad label value", wireSpec{DockerImage: "ubuntu", Command: []string{"true"}, Labels: map[string]string{"k": "a/b"}}, "Invalid value of label"},
		{"empty label value", wireSpec{DockerImage: "ubuntu", Command: []string{"true"}, Labels: map[string]string{"k": ""}}, ""},
		{"negative timeout", wireSpec{DockerImage: "ubuntu", Command: []string{"true"}, TimeoutSeconds: secs(-1)}, "timeoutSeconds"},
		{"bad env name", wireSpec{DockerImage: "ubuntu", Command: []string{"true"}, Environment: map[string]any{"A-B": "1"}}, "Invalid environment variable"},
		{"null secret", wireSpec{DockerImage: "ubuntu", Command: []string{"true"}, Secrets: map[string]*string{"UNSET": nil, "SET": str("v")}}, ""},
		{"bucket volume without buckets", wireSpec{DockerImage: "ubuntu", Command: []string{"true"},
			Volumes: []haven.JobVolume{{Type: "bucket", Source: "a/b", MountPath: "/data"}}}, "Bucket volumes are not offered"},
		{"volume at /", wireSpec{DockerImage: "ubuntu", Command: []string{"true"},
			Volumes: []haven.JobVolume{{Type: "model", Source: "a/b", MountPath: "/"}}}, "Invalid mountPath"},
		{"space without Spaces", wireSpec{SpaceID: "a/b", Command: []string{"true"}}, "runs no Spaces"},
		{"ssh", wireSpec{DockerImage: "ubuntu", Command: []string{"true"}, SSH: &struct {
			Enabled bool `json:"enabled"`
		}{true}}, "SSH"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec, secrets, err := s.parse(&tt.spec)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("parse = %v; want an error with %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if spec.Flavor != runner.DefaultFlavor {
				t.Errorf("flavor = %q", spec.Flavor)
			}
			if tt.name == "null secret" && (len(secrets) != 1 || secrets["SET"] != "v" || strings.Join(spec.Secrets, ",") != "SET") {
				t.Errorf("secrets = %v, names %v", secrets, spec.Secrets)
			}
		})
	}
}

func TestSchedules(t *testing.T) {
	at := time.Date(2026, 12, 6, 10, 7, 30, 0, time.UTC)
	tests := []struct {
		spec string
		next time.Time
		err  bool
	}{
		{"@hourly", time.Date(2026, 12, 6, 11, 0, 0, 0, time.UTC), false},
		{"hourly", time.Date(2026, 12, 6, 11, 0, 0, 0, time.UTC), false},
		{"daily", time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC), false},
		{"*/5 * * * *", time.Date(2026, 12, 6, 10, 10, 0, 0, time.UTC), false},
		{"0 9 * * 1", time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC), false},
		{"@every 5s", at.Add(5 * time.Second), false},
		{"@every 10ms", time.Time{}, true},
		{"* * *", time.Time{}, true},
		{"sometimes", time.Time{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			_, err := parseSchedule(tt.spec)
			if tt.err {
				if err == nil || !haven.IsCode(err, haven.EInvalid) {
					t.Fatalf("parseSchedule(%q) = %v; want invalid", tt.spec, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := nextRun(tt.spec, at); !got.Equal(tt.next) {
				t.Errorf("next = %v, want %v", got, tt.next)
			}
		})
	}
}

func TestDurations(t *testing.T) {
	created := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	j := &haven.Job{CreatedAt: created}
	if d := durations(j, created.Add(3*time.Second)); d["schedulingSecs"] != 3 || d["runningSecs"] != 0 || d["totalSecs"] != 3 {
		t.Errorf("waiting: %v", d)
	}
	j.StartedAt = created.Add(2 * time.Second)
	if d := durations(j, created.Add(10*time.Second)); d["schedulingSecs"] != 2 || d["runningSecs"] != 8 || d["totalSecs"] != 10 {
		t.Errorf("running: %v", d)
	}
	j.FinishedAt = created.Add(5 * time.Second)
	if d := durations(j, created.Add(time.Hour)); d["runningSecs"] != 3 || d["totalSecs"] != 5 {
		t.Errorf("ended: %v", d)
	}
}
