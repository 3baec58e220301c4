package config

import (
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
)

func TestLoadRabbitMQDefaults(t *testing.T) {
	cfg, err := Load(env(nil))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	u := cfg.Upstream
	if u.RabbitMQURL != "amqp://guest:guest@localhost:5672/" || u.BusPrefix != DefaultBusPrefix {
		t.Errorf("Upstream = %+v", u)
	}
	host, _ := os.Hostname()
	want := regexp.MustCompile(fmt.Sprintf(`^%s-%d-[0-9a-f]{4}$`, regexp.QuoteMeta(host), os.Getpid()))
	if !want.MatchString(u.InstanceID) {
		t.Errorf("InstanceID = %q, want <hostname>-<pid>-<4 hex>", u.InstanceID)
	}
}

func TestLoadRabbitMQValues(t *testing.T) {
	cfg, err := Load(env(map[string]string{
		"RABBITMQ_URL":        "amqp://shop:secret@rabbitmq:5673/shop",
		"BUS_PREFIX":          "shop.v2",
		"GATEWAY_INSTANCE_ID": "gw-1",
	}))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	want := Upstream{RabbitMQURL: "amqp://shop:secret@rabbitmq:5673/shop", BusPrefix: "shop.v2", InstanceID: "gw-1"}
	if cfg.Upstream != want {
		t.Errorf("Upstream = %+v, want %+v", cfg.Upstream, want)
	}
}

func TestLoadRabbitMQInvalid(t *testing.T) {
	tests := []struct {
		name, value string
	}{
		{"RABBITMQ_URL", "http://rabbitmq:5672/"},
		{"RABBITMQ_URL", "amqp://u:p@rabbitmq:port/"},
		{"BUS_PREFIX", "my app"},
		{"BUS_PREFIX", "a/b"},
		{"BUS_PREFIX", strings.Repeat("x", 101)},
		{"GATEWAY_INSTANCE_ID", "gw 1"},
	}
	for _, tt := range tests {
		_, err := Load(env(map[string]string{tt.name: tt.value}))
		if err == nil || !strings.Contains(err.Error(), tt.name) {
			t.Errorf("%s=%q: error = %v, want one naming %s", tt.name, tt.value, err, tt.name)
		}
	}
}

// A bad RABBITMQ_URL is named without the password it holds.
func TestLoadRabbitMQURLPasswordMasked(t *testing.T) {
	_, err := Load(env(map[string]string{"RABBITMQ_URL": "amqp://user:hunter2@rabbitmq:notaport/"}))
	if err == nil || !strings.Contains(err.Error(), "RABBITMQ_URL") {
		t.Fatalf("error = %v, want one naming RABBITMQ_URL", err)
	}
	if strings.Contains(err.Error(), "hunter2") {
		t.Errorf("error = %v: shows the password", err)
	}
}
