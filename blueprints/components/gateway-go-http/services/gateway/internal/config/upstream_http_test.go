package config

import (
	"strconv"
	"strings"
	"testing"
)

func TestLoadMLURL(t *testing.T) {
	defaultURL := "http://localhost:" + strconv.Itoa(DefaultMLPort)
	tests := []struct {
		mlURL, mlPort, want string
	}{
		{"", "", defaultURL},
		{"http://ml:8000", "", "http://ml:8000"},
		{"https://ml.internal/", "", "https://ml.internal"},
		{"http://10.0.0.5:8000/prefix", "", "http://10.0.0.5:8000/prefix"},
		// Bug: ML_URL was a literal of its own, so moving the ML service to
		// another ML_PORT left the gateway calling the old one.
		{"", "8123", "http://localhost:8123"},
		{"http://ml:8000", "8123", "http://ml:8000"},       // an explicit ML_URL wins
		{"http://ml:8000", "not a port", "http://ml:8000"}, // and ML_PORT is not read
	}
	for _, tt := range tests {
		cfg, err := Load(env(map[string]string{"ML_URL": tt.mlURL, "ML_PORT": tt.mlPort}))
		if err != nil {
			t.Errorf("ML_URL=%q ML_PORT=%q: %v", tt.mlURL, tt.mlPort, err)
			continue
		}
		if cfg.Upstream.MLURL != tt.want {
			t.Errorf("ML_URL=%q ML_PORT=%q: MLURL = %q, want %q", tt.mlURL, tt.mlPort, cfg.Upstream.MLURL, tt.want)
		}
	}
}

func TestLoadInvalidMLURL(t *testing.T) {
	for _, v := range []string{"localhost:8000", "ftp://ml", "http://", "http://ml:8000/?x=1", "://", "http://user:s3cr3t@ml:8000",
		// Bug: malformed URLs showed their password.
		"http//user:s3cr3t@ml:8000", "http:/user:s3cr3t@ml:8000", "http://user:s3cr3t/x@ml:8000", "http://:s3cr3t#x@ml"} {
		_, err := Load(env(map[string]string{"ML_URL": v}))
		if err == nil || !strings.Contains(err.Error(), "ML_URL") {
			t.Errorf("ML_URL=%q: error = %v, want one naming ML_URL", v, err)
		}
		if err != nil && strings.Contains(err.Error(), "s3cr3t") {
			t.Errorf("ML_URL=%q: the error shows the password: %v", v, err)
		}
	}
	_, err := Load(env(map[string]string{"ML_PORT": "80000"}))
	if err == nil || !strings.Contains(err.Error(), "ML_PORT") {
		t.Errorf("ML_PORT=80000 without ML_URL: error = %v, want one naming ML_PORT", err)
	}
}
