package config

import (
	"fmt"
	"os"
	"reflect"
	"regexp"
	"strings"
	"testing"
)

func TestLoadKafkaDefaults(t *testing.T) {
	cfg, err := Load(env(nil))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	u := cfg.Upstream
	if !reflect.DeepEqual(u.BootstrapServers, []string{"localhost:9092"}) || u.BusPrefix != DefaultBusPrefix ||
		u.RequestPartitions != 6 || u.ReplyPartitions != 6 {
		t.Errorf("Upstream = %+v", u)
	}
	host, _ := os.Hostname()
	want := regexp.MustCompile(fmt.Sprintf(`^%s-%d-[0-9a-f]{4}$`, regexp.QuoteMeta(host), os.Getpid()))
	if !want.MatchString(u.InstanceID) {
		t.Errorf("InstanceID = %q, want <hostname>-<pid>-<4 hex>", u.InstanceID)
	}
}

func TestLoadKafkaValues(t *testing.T) {
	cfg, err := Load(env(map[string]string{
		"KAFKA_BOOTSTRAP_SERVERS":  "kafka-1:9092,10.0.0.2:19092,[::1]:9093",
		"BUS_PREFIX":               "shop.v2_x-y",
		"KAFKA_REQUEST_PARTITIONS": "12",
		"KAFKA_REPLY_PARTITIONS":   "1",
		"GATEWAY_INSTANCE_ID":      "gw-1",
	}))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	want := Upstream{
		BootstrapServers:  []string{"kafka-1:9092", "10.0.0.2:19092", "[::1]:9093"},
		BusPrefix:         "shop.v2_x-y",
		RequestPartitions: 12,
		ReplyPartitions:   1,
		InstanceID:        "gw-1",
	}
	if !reflect.DeepEqual(cfg.Upstream, want) {
		t.Errorf("Upstream = %+v, want %+v", cfg.Upstream, want)
	}
}

func TestLoadKafkaInvalid(t *testing.T) {
	tests := []struct {
		name, value string
	}{
		{"KAFKA_BOOTSTRAP_SERVERS", "kafka"},
		{"KAFKA_BOOTSTRAP_SERVERS", "kafka:9092,"},
		{"KAFKA_BOOTSTRAP_SERVERS", "kafka:0"},
		{"KAFKA_BOOTSTRAP_SERVERS", ":9092"},
		{"KAFKA_BOOTSTRAP_SERVERS", "PLAINTEXT://kafka:9092"},
		{"BUS_PREFIX", "my/app"},
		{"BUS_PREFIX", strings.Repeat("a", 201)},
		{"KAFKA_REQUEST_PARTITIONS", "0"},
		{"KAFKA_REQUEST_PARTITIONS", "1001"},
		{"KAFKA_REPLY_PARTITIONS", "six"},
		{"GATEWAY_INSTANCE_ID", "gw 1"},
	}
	for _, tt := range tests {
		_, err := Load(env(map[string]string{tt.name: tt.value}))
		if err == nil || !strings.Contains(err.Error(), tt.name) {
			t.Errorf("%s=%q: error = %v, want one naming %s", tt.name, tt.value, err, tt.name)
		}
	}
}
