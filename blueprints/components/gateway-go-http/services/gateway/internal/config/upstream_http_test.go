package config

import (
	"strings"
	"testing"
)

func TestLoadMLURL(t *testing.T) {
	tests := []struct {
		value, want string
	}{
		{"", DefaultMLURL},
		{"http://ml:8000", "http://ml:8000"},
		{"https://ml.internal/", "https://ml.internal"},
		{"http://10.0.0.5:8000/prefix", "http://10.0.0.5:8000/prefix"},
	}
	for _, tt := range tests {
		cfg, err := Load(env(map[string]string{"ML_URL": tt.value}))
		if err != nil {
			t.Errorf("ML_URL=%q: %v", tt.value, err)
			continue
		}
		if cfg.Upstream.MLURL != tt.want {
			t.Errorf("ML_URL=%q: MLURL = %q, want %q", tt.value, cfg.Upstream.MLURL, tt.want)
		}
	}
}

func TestLoadInvalidMLURL(t *testing.T) {
	for _, v := range []string{"localhost:8000", "ftp://ml", "http://", "http://ml:8000/?x=1", "://"} {
		_, err := Load(env(map[string]string{"ML_URL": v}))
		if err == nil || !strings.Contains(err.Error(), "ML_URL") {
			t.Errorf("ML_URL=%q: error = %v, want one naming ML_URL", v, err)
		}
	}
}
