package main

import (
	"testing"
	"time"
)

func TestLoadConfigRefresh(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		bad  bool
		ok   func(Config) bool
	}{
		{name: "Defaults", ok: func(c Config) bool {
			return c.RefreshTimeout == time.Minute && c.BlocklistMaxBytes == 64<<20 && c.BlocklistMaxShrink == 0.5 && c.ReloadInterval == 30*time.Second
		}},
		{name: "Set", env: map[string]string{"SIGNUPGUARD_REFRESH_TIMEOUT": "5s", "SIGNUPGUARD_BLOCKLIST_MAX_MB": "8",
			"SIGNUPGUARD_BLOCKLIST_MAX_SHRINK": "1", "SIGNUPGUARD_RELOAD_INTERVAL": "1m"}, ok: func(c Config) bool {
			return c.RefreshTimeout == 5*time.Second && c.BlocklistMaxBytes == 8<<20 && c.BlocklistMaxShrink == 1 && c.ReloadInterval == time.Minute
		}},
		{name: "ErrTimeout", env: map[string]string{"SIGNUPGUARD_REFRESH_TIMEOUT": "0s"}, bad: true},
		{name: "ErrMaxMBZero", env: map[string]string{"SIGNUPGUARD_BLOCKLIST_MAX_MB": "0"}, bad: true},
		{name: "ErrMaxMBHuge", env: map[string]string{"SIGNUPGUARD_BLOCKLIST_MAX_MB": "5000"}, bad: true},
		{name: "ErrMaxMBUnit", env: map[string]string{"SIGNUPGUARD_BLOCKLIST_MAX_MB": "64MiB"}, bad: true},
		{name: "ErrShrinkZero", env: map[string]string{"SIGNUPGUARD_BLOCKLIST_MAX_SHRINK": "0"}, bad: true},
		{name: "ErrShrinkOverOne", env: map[string]string{"SIGNUPGUARD_BLOCKLIST_MAX_SHRINK": "1.5"}, bad: true},
		{name: "ErrShrinkNaN", env: map[string]string{"SIGNUPGUARD_BLOCKLIST_MAX_SHRINK": "NaN"}, bad: true},
		{name: "ErrShrinkWord", env: map[string]string{"SIGNUPGUARD_BLOCKLIST_MAX_SHRINK": "half"}, bad: true},
		{name: "ErrReloadInterval", env: map[string]string{"SIGNUPGUARD_RELOAD_INTERVAL": "-1s"}, bad: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := loadConfig(func(k string) string { return tt.env[k] })
			if tt.bad {
				if err == nil {
					t.Fatal("want an error")
				}
				return
			}
			if err != nil || !tt.ok(c) {
				t.Fatalf("got %+v, %v", c, err)
			}
		})
	}
}
