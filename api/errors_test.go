package api

import (
	"testing"
	"time"

	"github.com/signupguard/signupguard/service"
)

func TestStatusOf(t *testing.T) {
	for _, c := range service.Codes() {
		if statusOf[c] == 0 {
			t.Errorf("service code %q has no HTTP status", c)
		}
	}
}

func TestRetryAfter(t *testing.T) {
	tests := []struct {
		in   float64 // seconds
		want string
	}{{0, "5"}, {0.2, "1"}, {1, "1"}, {1.5, "2"}, {60, "60"}}
	for _, tt := range tests {
		if got := retryAfter(secs(tt.in)); got != tt.want {
			t.Errorf("retryAfter(%vs) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func secs(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }
