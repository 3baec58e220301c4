package traceparent

import (
	"regexp"
	"testing"
)

func TestValid(t *testing.T) {
	tests := []struct {
		tp   string
		want bool
	}{
		{"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", true},
		{"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00", true},
		{"01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra", true},
		{"", false},
		{"garbage", false},
		{"00-4BF92F3577B34DA6A3CE929D0E0E4736-00F067AA0BA902B7-01", false}, // uppercase
		{"00-00000000000000000000000000000000-00f067aa0ba902b7-01", false}, // zero trace id
		{"00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01", false}, // zero parent id
		{"ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", false}, // forbidden version
		{"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra", false},
		{"01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01extra", false},
		{"00_4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7_01", false},
		{"00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01", false},
	}
	for _, tt := range tests {
		if got := Valid(tt.tp); got != tt.want {
			t.Errorf("Valid(%q) = %v, want %v", tt.tp, got, tt.want)
		}
	}
}

func TestNew(t *testing.T) {
	format := regexp.MustCompile(`^00-[0-9a-f]{32}-[0-9a-f]{16}-01$`)
	tp := New()
	if !format.MatchString(tp) || !Valid(tp) {
		t.Errorf("New() = %q, want 00-<32 hex>-<16 hex>-01", tp)
	}
	if New() == tp {
		t.Errorf("New() returned %q twice", tp)
	}
}

func TestFromHeader(t *testing.T) {
	const good = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	if got := FromHeader(good); got != good {
		t.Errorf("FromHeader(valid) = %q, want it kept", got)
	}
	if got := FromHeader("nope"); !Valid(got) {
		t.Errorf("FromHeader(invalid) = %q, want a new valid traceparent", got)
	}
}
