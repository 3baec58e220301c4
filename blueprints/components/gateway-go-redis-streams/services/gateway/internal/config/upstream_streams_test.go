package config

import (
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
)

func TestLoadStreamsDefaults(t *testing.T) {
	cfg, err := Load(env(nil))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	u := cfg.Upstream
	if u.RedisURL != "redis://localhost:6379/0" || u.StreamPrefix != DefaultStreamPrefix || u.StreamMaxLen != 100000 {
		t.Errorf("Upstream = %+v", u)
	}
	host, _ := os.Hostname()
	want := regexp.MustCompile(fmt.Sprintf(`^%s-%d-[0-9a-f]{4}$`, regexp.QuoteMeta(host), os.Getpid()))
	if !want.MatchString(u.InstanceID) {
		t.Errorf("InstanceID = %q, want <hostname>-<pid>-<4 hex>", u.InstanceID)
	}
}

func TestLoadStreamsValues(t *testing.T) {
	cfg, err := Load(env(map[string]string{
		"REDIS_URL":           "redis://:secret@redis:6380/2",
		"STREAM_PREFIX":       "shop",
		"STREAM_MAXLEN":       "500",
		"GATEWAY_INSTANCE_ID": "gw-1",
	}))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	want := Upstream{RedisURL: "redis://:secret@redis:6380/2", StreamPrefix: "shop", StreamMaxLen: 500, InstanceID: "gw-1"}
	if cfg.Upstream != want {
		t.Errorf("Upstream = %+v, want %+v", cfg.Upstream, want)
	}
}

// REDIS_URL is checked by redis_test.go (gateway-go-redis).
func TestLoadStreamsInvalid(t *testing.T) {
	tests := []struct {
		name, value string
	}{
		{"STREAM_MAXLEN", "0"},
		{"STREAM_MAXLEN", "many"},
		{"STREAM_PREFIX", "my app"},
		{"GATEWAY_INSTANCE_ID", "gw 1"},
	}
	for _, tt := range tests {
		_, err := Load(env(map[string]string{tt.name: tt.value}))
		if err == nil || !strings.Contains(err.Error(), tt.name) {
			t.Errorf("%s=%q: error = %v, want one naming %s", tt.name, tt.value, err, tt.name)
		}
	}
}
