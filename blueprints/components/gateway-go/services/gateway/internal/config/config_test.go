package config

import (
	"log/slog"
	"strings"
	"testing"
	"time"
)

// env returns a getenv that reads vars.
func env(vars map[string]string) func(string) string {
	return func(name string) string { return vars[name] }
}

func TestLoadDefaults(t *testing.T) {
	cfg, err := Load(env(nil))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	want := Config{
		Host:            "0.0.0.0",
		Port:            DefaultPort,
		UpstreamTimeout: 5 * time.Second,
		MaxBodyBytes:    1 << 20,
		ShutdownTimeout: 10 * time.Second,
		LogLevel:        slog.LevelInfo,
	}
	cfg.Upstream = Upstream{} // checked with each transport
	if cfg != want {
		t.Errorf("Load() =\n%+v\nwant\n%+v", cfg, want)
	}
}

func TestLoadValues(t *testing.T) {
	cfg, err := Load(env(map[string]string{
		"GATEWAY_HOST":                "127.0.0.1",
		"GATEWAY_PORT":                "9090",
		"GATEWAY_UPSTREAM_TIMEOUT_MS": "250",
		"GATEWAY_MAX_BODY_BYTES":      "2048",
		"GATEWAY_SHUTDOWN_TIMEOUT_MS": "1500",
		"LOG_LEVEL":                   "WARNING",
	}))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if cfg.Host != "127.0.0.1" || cfg.Port != 9090 || cfg.UpstreamTimeout != 250*time.Millisecond ||
		cfg.MaxBodyBytes != 2048 || cfg.ShutdownTimeout != 1500*time.Millisecond || cfg.LogLevel != slog.LevelWarn {
		t.Errorf("Load() = %+v", cfg)
	}
}

func TestLoadInvalid(t *testing.T) {
	tests := []struct {
		name, value string
	}{
		{"GATEWAY_HOST", "local host"},
		{"GATEWAY_PORT", "http"},
		{"GATEWAY_PORT", "0"},
		{"GATEWAY_PORT", "65536"},
		{"GATEWAY_PORT", "-1"},
		{"GATEWAY_PORT", "80.5"},
		{"GATEWAY_UPSTREAM_TIMEOUT_MS", "0"},
		{"GATEWAY_UPSTREAM_TIMEOUT_MS", "5s"},
		{"GATEWAY_UPSTREAM_TIMEOUT_MS", "2147483648"},
		{"GATEWAY_MAX_BODY_BYTES", "-5"},
		{"GATEWAY_MAX_BODY_BYTES", "1MB"},
		{"GATEWAY_SHUTDOWN_TIMEOUT_MS", "soon"},
		{"LOG_LEVEL", "loud"},
	}
	for _, tt := range tests {
		t.Run(tt.name+"="+tt.value, func(t *testing.T) {
			_, err := Load(env(map[string]string{tt.name: tt.value}))
			if err == nil {
				t.Fatalf("Load accepted %s=%q", tt.name, tt.value)
			}
			if !strings.Contains(err.Error(), tt.name) {
				t.Errorf("error %q does not name %s", err, tt.name)
			}
		})
	}
}

func TestLoadNamesEveryInvalidVariable(t *testing.T) {
	_, err := Load(env(map[string]string{"GATEWAY_PORT": "x", "LOG_LEVEL": "y"}))
	if err == nil || !strings.Contains(err.Error(), "GATEWAY_PORT") || !strings.Contains(err.Error(), "LOG_LEVEL") {
		t.Errorf("Load error = %v, want both variables named", err)
	}
}
