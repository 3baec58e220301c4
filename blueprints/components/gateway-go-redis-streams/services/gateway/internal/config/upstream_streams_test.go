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

func TestLoadStreamsInvalid(t *testing.T) {
	tests := []struct {
		name, value string
	}{
		{"REDIS_URL", "localhost:6379"},
		{"REDIS_URL", "http://redis:6379"},
		{"REDIS_URL", "redis://redis:6379/db"},
		// Bug: go-redis reads redis:HOST (no "//") as localhost:6379 and drops
		// the rest, password included; the gateway started against the wrong
		// Redis, while the Node.js gateway and the worker refuse the value.
		{"REDIS_URL", "redis:redis:6379"},
		{"REDIS_URL", "rediss:redis:6380/0"},
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

// Bug: a malformed REDIS_URL showed its password, in
// the value and in the parser's message, which quotes what it rejects (a
// password holding "/" gave `invalid port ":s3cr3t"`). The message stays,
// taken from the masked URL.
func TestLoadStreamsHidesPasswordsOfMalformedURLs(t *testing.T) {
	tests := []struct {
		value, reason string // reason: what the error still says
	}{
		{"redis//:s3cr3t-pa55@redis:6379/0", "invalid URL scheme"},
		{"redis:/:s3cr3t-pa55@redis:6379/0", "invalid URL path"},
		{"redis:///:s3cr3t-pa55@redis:6379/0", "invalid URL path"},
		{"redis://:s3cr3t/pa55@redis:6379/0", "percent-encode"},
		{"redis://:12/s3cr3t-pa55@redis:6379/0", "percent-encode"},
		{"redis://:s3cr3t#pa55@redis:6379/0", "percent-encode"},
		{"redis://:s3cr3t-pa55@redis:6379/db", `invalid database number: "db"`},
		{"http://:s3cr3t-pa55@redis:6379/0", "invalid URL scheme"},
		{"redis:s3cr3t-pa55@redis:6379/0", "no // after the scheme"},
	}
	for _, tt := range tests {
		_, err := Load(env(map[string]string{"REDIS_URL": tt.value}))
		if err == nil {
			t.Errorf("REDIS_URL=%q accepted", tt.value)
			continue
		}
		msg := err.Error()
		for _, piece := range []string{"s3cr3t", "pa55"} {
			if strings.Contains(msg, piece) {
				t.Errorf("REDIS_URL=%q: the error shows the password (%q): %s", tt.value, piece, msg)
			}
		}
		if !strings.Contains(msg, "REDIS_URL=") || !strings.Contains(msg, tt.reason) {
			t.Errorf("REDIS_URL=%q: error %q should name REDIS_URL and say %q", tt.value, msg, tt.reason)
		}
	}
}
