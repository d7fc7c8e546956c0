package main

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestREADMESettings fails when README's configuration table and settings()
// differ in names, defaults or help, so neither can drift. The README may
// set words of the help in code spans; the default cell may say more after
// the default itself (where it comes from).
func TestREADMESettings(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, after, ok := strings.Cut(string(b), "\n## Configuration\n")
	if !ok {
		t.Fatal("README has no ## Configuration section")
	}
	section, _, _ := strings.Cut(after, "\n## ")
	row := regexp.MustCompile("^\\| `([A-Z_]+)` \\| (.*?) \\| (.*) \\|$")
	readme := map[string][2]string{}
	var order []string
	for _, line := range strings.Split(section, "\n") {
		if m := row.FindStringSubmatch(line); m != nil {
			readme[m[1]] = [2]string{m[2], m[3]}
			order = append(order, m[1])
		}
	}
	var names []string
	for _, s := range settings() {
		names = append(names, s.Name)
		got, ok := readme[s.Name]
		if !ok {
			t.Errorf("README's configuration table lacks %s", s.Name)
			continue
		}
		def := "`" + s.Default + "`"
		if s.Default == "" {
			def = "(none)"
		}
		if !strings.HasPrefix(got[0], def) && !(s.Default != "" && strings.Contains(got[0], "see [")) ||
			strings.ReplaceAll(got[1], "`", "") != s.Help {
			t.Errorf("README row for %s:\n| %s | %s |\nwant (from settings()):\n| %s | %s |", s.Name, got[0], got[1], def, s.Help)
		}
	}
	for _, name := range order {
		if !slices.Contains(names, name) {
			t.Errorf("README lists %s, which settings() does not have", name)
		}
	}
}

// TestREADMEFormSnippet keeps the README's form snippet identical to the one
// the browser test runs (api/static/form.html).
func TestREADMEFormSnippet(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	snippet, err := os.ReadFile("../../api/static/form.html")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(readme), "```html\n"+string(snippet)+"```") {
		t.Error("README's form snippet differs from api/static/form.html, which the browser test exercises")
	}
}

func TestConfigOps(t *testing.T) {
	tests := []struct {
		name    string
		vars    map[string]string
		want    func(Config) bool
		wantErr string
	}{
		{name: "Defaults", want: func(c Config) bool { return c.AdminToken == "" && c.CORSOrigins == nil }},
		{name: "Origins", vars: map[string]string{"SIGNUPGUARD_CORS_ORIGINS": "https://www.example.org, http://localhost:3000/"},
			want: func(c Config) bool {
				return slices.Equal(c.CORSOrigins, []string{"https://www.example.org", "http://localhost:3000"})
			}},
		{name: "ErrOriginPath", vars: map[string]string{"SIGNUPGUARD_CORS_ORIGINS": "https://www.example.org/news"}, wantErr: "SIGNUPGUARD_CORS_ORIGINS"},
		{name: "ErrOriginScheme", vars: map[string]string{"SIGNUPGUARD_CORS_ORIGINS": "www.example.org"}, wantErr: "not an origin"},
		{name: "ErrOriginWildcard", vars: map[string]string{"SIGNUPGUARD_CORS_ORIGINS": "*"}, wantErr: "not an origin"},
		{name: "Token", vars: map[string]string{"SIGNUPGUARD_ADMIN_TOKEN": "0123456789abcdef"},
			want: func(c Config) bool { return c.AdminToken == "0123456789abcdef" }},
		{name: "ErrTokenShort", vars: map[string]string{"SIGNUPGUARD_ADMIN_TOKEN": "hunter2"}, wantErr: "too short"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := loadConfig(env(tt.vars))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("err = %v, want one mentioning %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || !tt.want(c) {
				t.Errorf("loadConfig = %+v, %v", c, err)
			}
		})
	}
}

// FuzzParseOrigins checks that every origin accepted reads back as itself.
func FuzzParseOrigins(f *testing.F) {
	f.Fuzz(func(t *testing.T, v string) {
		origins, err := parseOrigins(v)
		if err != nil {
			return
		}
		for _, o := range origins {
			again, err := parseOrigins(o)
			if err != nil || len(again) != 1 || again[0] != o {
				t.Fatalf("%q gave origin %q, which parses as %q, %v", v, o, again, err)
			}
			if strings.ContainsAny(o, " ,\r\n") {
				t.Fatalf("origin %q holds a separator", o)
			}
		}
	})
}
