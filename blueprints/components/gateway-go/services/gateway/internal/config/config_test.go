package config

import (
	"errors"
	"log/slog"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

// env returns a getenv that reads vars, then authEnv: the settings the
// auth mode needs to load (auth_*_test.go), unless vars sets them.
func env(vars map[string]string) func(string) string {
	return func(name string) string {
		if v, ok := vars[name]; ok {
			return v
		}
		return authEnv[name]
	}
}

func TestLoadDefaults(t *testing.T) {
	cfg, err := Load(env(nil))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	want := Config{
		Host:            "0.0.0.0",
		Port:            DefaultPort,
		MetricsHost:     "127.0.0.1",
		MetricsPort:     DefaultMetricsPort,
		UpstreamTimeout: 5 * time.Second,
		MaxBodyBytes:    1 << 20,
		MaxInFlight:     DefaultMaxInFlight,
		MaxRows:         256,
		ShutdownTimeout: 10 * time.Second,
		LogLevel:        slog.LevelInfo,
	}
	// Checked with each transport, auth, rate limit and chat API.
	cfg.Upstream, cfg.Auth, cfg.RateLimit, cfg.Chat = Upstream{}, Auth{}, RateLimit{}, Chat{}
	if !reflect.DeepEqual(cfg, want) {
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
		"GATEWAY_METRICS_HOST":        "0.0.0.0",
		"GATEWAY_METRICS_PORT":        "9100",
		"GATEWAY_MAX_INFLIGHT":        "8",
		"ML_MAX_BATCH":                "1000",
		"GATEWAY_DRAIN_DELAY_MS":      "3000",
		"GATEWAY_TRACE_SAMPLED":       "TRUE",
		"LOG_LEVEL":                   "WARNING",
	}))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	want := Config{
		Host:            "127.0.0.1",
		Port:            9090,
		MetricsHost:     "0.0.0.0",
		MetricsPort:     9100,
		UpstreamTimeout: 250 * time.Millisecond,
		MaxBodyBytes:    2048,
		MaxInFlight:     8,
		MaxRows:         1000,
		ShutdownTimeout: 1500 * time.Millisecond,
		DrainDelay:      3 * time.Second,
		TraceSampled:    true,
		LogLevel:        slog.LevelWarn,
	}
	cfg.Upstream, cfg.Auth, cfg.RateLimit, cfg.Chat = Upstream{}, Auth{}, RateLimit{}, Chat{}
	if !reflect.DeepEqual(cfg, want) {
		t.Errorf("Load() =\n%+v\nwant\n%+v", cfg, want)
	}
}

func TestLoadBooleans(t *testing.T) {
	for value, want := range map[string]bool{
		"true": true, "True": true, "1": true, "yes": true, "on": true,
		"false": false, "FALSE": false, "0": false, "no": false, "off": false,
	} {
		cfg, err := Load(env(map[string]string{"GATEWAY_TRACE_SAMPLED": value}))
		if err != nil || cfg.TraceSampled != want {
			t.Errorf("GATEWAY_TRACE_SAMPLED=%q: TraceSampled = %v (%v), want %v", value, cfg.TraceSampled, err, want)
		}
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
		{"GATEWAY_SHUTDOWN_TIMEOUT_MS", "0"},
		{"GATEWAY_METRICS_HOST", "local host"},
		{"GATEWAY_METRICS_PORT", "0"},
		{"GATEWAY_METRICS_PORT", strconv.Itoa(DefaultPort)}, // the public port
		{"GATEWAY_MAX_INFLIGHT", "0"},
		{"GATEWAY_MAX_INFLIGHT", "2147483648"},
		{"ML_MAX_BATCH", "0"},
		{"ML_MAX_BATCH", "many"},
		{"GATEWAY_DRAIN_DELAY_MS", "-1"},
		{"GATEWAY_DRAIN_DELAY_MS", "2147483648"},
		{"GATEWAY_TRACE_SAMPLED", "maybe"},
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

// An invalid URL is echoed in the error, which ends up in logs: its
// password must not be (bug: REDIS_URL=redis://:s3cr3t-pass@host/x was
// logged as is, and so were the parse errors that quote the URL).
func TestConfigErrorsHidePasswords(t *testing.T) {
	tests := []struct {
		value  string
		secret string
		shown  string // what the error shows instead
	}{
		{"redis://:s3cr3t-pass@localhost:6379/x", "s3cr3t-pass", "redis://:xxxxx@localhost:6379/x"},
		{"redis://user:s3cr3t-pass@localhost:6379/0?dial_timeout=zz", "s3cr3t-pass", "redis://user:xxxxx@localhost:6379/0?dial_timeout=zz"},
		{"rediss://default:p%40ss%3Aw0rd@redis:6380/0/extra", "p@ss:w0rd", "rediss://default:xxxxx@redis:6380/0/extra"},
		{"redis://:s3cr3t@local host:6379", "s3cr3t", "redis://:xxxxx@local host:6379"},
		{"redis://token-s3cr3t@localhost:bad", "token-s3cr3t", "redis://xxxxx@localhost:bad"},
		{"http://user:s3cr3t@ml:8000", "s3cr3t", "http://user:xxxxx@ml:8000"},
		{"http://user:s3:cr@et@ml:8000/v1", "s3:cr@et", "http://user:xxxxx@ml:8000/v1"},
	}
	for _, tt := range tests {
		t.Run(tt.value, func(t *testing.T) {
			r := &reader{getenv: env(nil)}
			reason := "must be a valid URL"
			if _, err := url.Parse(tt.value); err != nil {
				reason += ": " + err.Error() // url.Error quotes the whole URL
			}
			r.fail("SOME_URL", tt.value, reason+" (got "+tt.value+")")
			err := errors.Join(r.errs...)
			if err == nil {
				t.Fatal("no error recorded")
			}
			msg := err.Error()
			if strings.Contains(msg, tt.secret) {
				t.Errorf("the error shows the password %q: %s", tt.secret, msg)
			}
			if !strings.Contains(msg, "SOME_URL=") || !strings.Contains(msg, tt.shown) {
				t.Errorf("error %q should name SOME_URL and show %q", msg, tt.shown)
			}
		})
	}
}

// Bug: the mask looked for "scheme://" and for a
// userinfo ending before the first "/", "?" or "#", so the malformed URLs,
// the very ones that get echoed, showed their password: no colon after the
// scheme (redis//:pw@host), one slash, three slashes, no slashes, or a
// password holding "/", "?", "#" or a space. url.Parse cannot say where such
// a userinfo ends: everything between the authority's start and the last
// "@" is masked, whether or not the value parses.
func TestConfigErrorsHidePasswordsOfMalformedURLs(t *testing.T) {
	tests := []struct {
		value string
		shown string // what the error shows instead
	}{
		{"redis//:s3cr3t-pa55@redis:6379/0", "redis//:xxxxx@redis:6379/0"},
		{"redis//user:s3cr3t-pa55@redis:6379/0", "redis//user:xxxxx@redis:6379/0"},
		{"redis//s3cr3t-pa55@redis:6379/0", "redis//xxxxx@redis:6379/0"},
		{"redis:/:s3cr3t-pa55@redis:6379/0", "redis:/:xxxxx@redis:6379/0"},
		{"redis:///:s3cr3t-pa55@redis:6379/0", "redis:///:xxxxx@redis:6379/0"},
		{"redis:s3cr3t-pa55@redis:6379/0", "redis:xxxxx@redis:6379/0"},
		{"//:s3cr3t-pa55@redis:6379/0", "//:xxxxx@redis:6379/0"},
		{"s3cr3t-pa55@redis:6379/0", "xxxxx@redis:6379/0"},
		{"redis://:s3cr3t/pa55@redis:6379/0", "redis://:xxxxx@redis:6379/0"},
		{"redis://:s3cr3t?pa55@redis:6379/0", "redis://:xxxxx@redis:6379/0"},
		{"redis://:s3cr3t#pa55@redis:6379/0", "redis://:xxxxx@redis:6379/0"},
		{"redis://:12/s3cr3t@redis:6379/0", "redis://:xxxxx@redis:6379/0"}, // url.Parse takes :12 for a port
		{"redis://user:s3cr3t pa55@redis:6379/0", "redis://user:xxxxx@redis:6379/0"},
		{"rediss://:s3cr3t@pa55@redis:6380", "rediss://:xxxxx@redis:6380"},
		{"http//user:s3cr3t-pa55@ml:8000/v1", "http//user:xxxxx@ml:8000/v1"},
		{"http://user:s3cr3t/pa55@ml:8000/v1", "http://user:xxxxx@ml:8000/v1"},
	}
	for _, tt := range tests {
		t.Run(tt.value, func(t *testing.T) {
			r := &reader{getenv: env(nil)}
			r.fail("SOME_URL", tt.value, "must be a valid URL (got "+tt.value+")")
			msg := errors.Join(r.errs...).Error()
			for _, piece := range []string{"s3cr3t", "pa55"} {
				if strings.Contains(msg, piece) {
					t.Errorf("the error shows the password (%q): %s", piece, msg)
				}
			}
			if !strings.Contains(msg, "SOME_URL=") || !strings.Contains(msg, tt.shown) {
				t.Errorf("error %q should name SOME_URL and show %q", msg, tt.shown)
			}
		})
	}
}

// Values without an "@" are shown as they are: they hold no userinfo.
func TestConfigErrorsKeepValuesWithoutPasswords(t *testing.T) {
	for _, v := range []string{"redis://localhost:6379/x", "http://ml:8000", "8080x", "redis//localhost:6379", "http:/ml:8000/v1?x=1#y"} {
		r := &reader{getenv: env(nil)}
		r.fail("X", v, "bad")
		if got := r.errs[0].Error(); !strings.Contains(got, v) {
			t.Errorf("fail(%q) = %q, want the value shown as is", v, got)
		}
	}
}
