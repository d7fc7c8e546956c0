package disposable

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/signupguard/signupguard/internal/testenv"
)

func TestIsDisposable(t *testing.T) {
	l, err := New(strings.NewReader(`
# operator additions
example-trash.net
Bücher-Wegwerf.de.   # IDNA and a trailing dot, stored as an A-label
# exemptions
!ok.mailinator.com
! 10minutemail.com
`))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		domain string
		want   bool
	}{
		{"mailinator.com", true},
		{"MAILINATOR.COM", true},
		{"sub.mailinator.com", true},
		{"a.b.c.mailinator.com", true},
		{"mailinator.com.", true},
		{"guerrillamail.com", true},
		{"mailinatorx.com", false},
		{"mailinator.com.evil.org", false},
		{"com", false},
		{"", false},
		{"gmail.com", false},
		{"example-trash.net", true},
		{"x.example-trash.net", true},
		{"xn--bcher-wegwerf-wob.de", true},
		{"ok.mailinator.com", false},
		{"deeper.ok.mailinator.com", false},
		{"10minutemail.com", false},
		{"10minutemail.net", true},
	}
	for _, tt := range tests {
		t.Run(tt.domain, func(t *testing.T) {
			if got := l.IsDisposable(tt.domain); got != tt.want {
				t.Errorf("IsDisposable(%q) = %v, want %v", tt.domain, got, tt.want)
			}
		})
	}
}

// The embedded list is the shared snapshot, all of it.
func TestEmbeddedIsSharedList(t *testing.T) {
	shared, err := os.ReadFile(filepath.Join(testenv.DataDir(t), "disposable", "disposable_email_blocklist.conf"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(shared, embedded) {
		t.Error("the embedded list differs from ../shared/data/disposable; copy it again")
	}
	l, err := New(nil)
	if err != nil {
		t.Fatal(err)
	}
	want := 0
	for _, line := range strings.Split(string(shared), "\n") {
		if strings.TrimSpace(line) != "" {
			want++
			if !l.IsDisposable(line) {
				t.Fatalf("%q from the list is not disposable", line)
			}
		}
	}
	if l.Len() != want || want < 8000 {
		t.Errorf("Len() = %d, want %d", l.Len(), want)
	}
}

func TestNewBadFile(t *testing.T) {
	tests := []struct {
		name, file, msg string
	}{
		{"Dotless", "ok.example.org\nlocalhost\n", "line 2"},
		{"Space", "two words.com\n", "line 1"},
		{"EmptyLabel", "a..b.com\n", "line 1"},
		{"LongLine", strings.Repeat("a", 5000) + ".com\n", "token too long"},
		{"BareBang", "!\n", "line 1"},
		{"Underscore", "under_score.com\n", "line 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := New(strings.NewReader(tt.file))
			if err == nil || !strings.Contains(err.Error(), tt.msg) {
				t.Fatalf("New = %v, %v; want an error with %q", l, err, tt.msg)
			}
		})
	}
}

func FuzzNew(f *testing.F) {
	for _, s := range []string{"a.com\n!b.a.com\n", "# c\n", "ü.de", "!", "a..b", "xn--bcher-kva.de"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, file string) {
		l, err := New(strings.NewReader(file))
		if err != nil {
			return
		}
		if !l.IsDisposable("mailinator.com") && !strings.Contains(file, "!") {
			t.Fatalf("the operator file %q dropped an embedded domain", file)
		}
		l.IsDisposable(file)
	})
}
