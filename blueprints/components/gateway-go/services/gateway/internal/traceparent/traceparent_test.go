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
	tests := []struct {
		sampled bool
		format  *regexp.Regexp
	}{
		{false, regexp.MustCompile(`^00-[0-9a-f]{32}-[0-9a-f]{16}-00$`)},
		{true, regexp.MustCompile(`^00-[0-9a-f]{32}-[0-9a-f]{16}-01$`)},
	}
	for _, tt := range tests {
		tp := New(tt.sampled)
		if !tt.format.MatchString(tp) || !Valid(tp) {
			t.Errorf("New(%v) = %q, want %s", tt.sampled, tp, tt.format)
		}
		if New(tt.sampled) == tp {
			t.Errorf("New(%v) returned %q twice", tt.sampled, tp)
		}
	}
}

func TestFromHeader(t *testing.T) {
	tests := []struct {
		header    string
		sampleNew bool
		want      string // "" for a new traceparent
		flags     string // of the new one
	}{
		{"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", false, "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", ""},
		{"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00", true, "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00", ""},
		{"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-03", false, "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-03", ""},
		{"nope", false, "", "00"},
		{"nope", true, "", "01"},
		{"", false, "", "00"},
	}
	for _, tt := range tests {
		got := FromHeader(tt.header, tt.sampleNew)
		switch {
		case tt.want != "" && got != tt.want:
			t.Errorf("FromHeader(%q, %v) = %q, want it kept", tt.header, tt.sampleNew, got)
		case tt.want == "" && (!Valid(got) || got[53:] != tt.flags):
			t.Errorf("FromHeader(%q, %v) = %q, want a new traceparent with flags %s", tt.header, tt.sampleNew, got, tt.flags)
		}
	}
}
