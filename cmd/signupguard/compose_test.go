package main

import (
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/goccy/go-yaml"
)

// TestCompose parses compose.yaml (there is no Docker engine here to run
// it) and checks that every variable it gives signupguard is a setting the
// binary knows, so a renamed setting cannot leave compose silently ignored.
func TestCompose(t *testing.T) {
	b, err := os.ReadFile("../../compose.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var compose struct {
		Services map[string]struct {
			Build       any               `yaml:"build"`
			Environment map[string]string `yaml:"environment"`
			Healthcheck *struct {
				Test []string `yaml:"test"`
			} `yaml:"healthcheck"`
			Volumes []string `yaml:"volumes"`
		} `yaml:"services"`
		Volumes map[string]any `yaml:"volumes"`
	}
	if err := yaml.Unmarshal(b, &compose); err != nil {
		t.Fatalf("compose.yaml: %v", err)
	}
	var known []string
	for _, s := range settings() {
		known = append(known, s.Name)
	}
	ours := 0
	for name, svc := range compose.Services {
		if svc.Build == nil {
			continue // not signupguard's image
		}
		ours++
		if svc.Environment["DATABASE_URL"] == "" {
			t.Errorf("service %s has no DATABASE_URL", name)
		}
		for v := range svc.Environment {
			if !slices.Contains(known, v) {
				t.Errorf("service %s sets %s, which signupguard does not read (settings() in config.go)", name, v)
			}
		}
	}
	if ours != 2 {
		t.Errorf("found %d signupguard services, want 2 (serve and refresh)", ours)
	}
	pg, ok := compose.Services["postgres"]
	if !ok || pg.Healthcheck == nil || len(pg.Volumes) == 0 || compose.Volumes == nil {
		t.Error("postgres needs a healthcheck and a named volume")
	}
}

// TestDockerfile checks what can be checked without building: a static
// binary, and images that do not run as root.
func TestDockerfile(t *testing.T) {
	b, err := os.ReadFile("../../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	var stage string
	users := map[string]string{} // stage -> USER
	var last string
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) >= 4 && f[0] == "FROM" && f[2] == "AS":
			stage, last = f[3], f[3]
		case len(f) == 2 && f[0] == "USER":
			users[stage] = f[1]
		}
	}
	if !strings.Contains(string(b), "CGO_ENABLED=0 go build") {
		t.Error("the binary is not built with CGO_ENABLED=0, so it may not be static")
	}
	if last != "serve" {
		t.Errorf("last stage is %q: docker build without --target should give the serve image", last)
	}
	for _, s := range []string{"serve", "refresh"} {
		u := users[s]
		if u == "" || strings.HasPrefix(u, "root") || strings.HasPrefix(u, "0:") || u == "0" {
			t.Errorf("stage %s runs as %q, want a non-root user", s, u)
		}
	}
}
