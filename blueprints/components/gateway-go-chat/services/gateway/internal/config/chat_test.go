package config

import (
	"strings"
	"testing"
	"time"
)

func TestLoadChatDefaults(t *testing.T) {
	cfg, err := Load(env(nil))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	want := Chat{FirstTokenTimeout: 10 * time.Second, TokenGapTimeout: 10 * time.Second, BufferEvents: 256}
	if cfg.Chat != want {
		t.Errorf("Chat = %+v, want %+v", cfg.Chat, want)
	}
}

func TestLoadChatValues(t *testing.T) {
	cfg, err := Load(env(map[string]string{
		"GATEWAY_FIRST_TOKEN_TIMEOUT_MS": "2500",
		"GATEWAY_TOKEN_GAP_TIMEOUT_MS":   "750",
		"GATEWAY_STREAM_BUFFER_EVENTS":   "65536",
	}))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	want := Chat{FirstTokenTimeout: 2500 * time.Millisecond, TokenGapTimeout: 750 * time.Millisecond, BufferEvents: 65536}
	if cfg.Chat != want {
		t.Errorf("Chat = %+v, want %+v", cfg.Chat, want)
	}
}

func TestLoadChatInvalid(t *testing.T) {
	for _, tt := range []struct{ name, value string }{
		{"GATEWAY_FIRST_TOKEN_TIMEOUT_MS", "0"},
		{"GATEWAY_FIRST_TOKEN_TIMEOUT_MS", "10s"},
		{"GATEWAY_FIRST_TOKEN_TIMEOUT_MS", "2147483648"},
		{"GATEWAY_TOKEN_GAP_TIMEOUT_MS", "-1"},
		{"GATEWAY_STREAM_BUFFER_EVENTS", "0"},
		{"GATEWAY_STREAM_BUFFER_EVENTS", "65537"},
		{"GATEWAY_STREAM_BUFFER_EVENTS", "1.5"},
	} {
		_, err := Load(env(map[string]string{tt.name: tt.value}))
		if err == nil || !strings.Contains(err.Error(), tt.name+"=") {
			t.Errorf("%s=%q: error %v, want one naming the variable", tt.name, tt.value, err)
		}
	}
}
