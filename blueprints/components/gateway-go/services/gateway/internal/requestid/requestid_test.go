package requestid

import (
	"context"
	"regexp"
	"strings"
	"testing"
)

func TestValid(t *testing.T) {
	tests := []struct {
		id   string
		want bool
	}{
		{"abc", true},
		{"A-Z_a.z:0-9", true},
		{"7f3c2a9e-1b4d-4c8e-9f00-123456789abc", true},
		{strings.Repeat("x", 128), true},
		{"", false},
		{strings.Repeat("x", 129), false},
		{"has space", false},
		{"slash/", false},
		{"semi;colon", false},
		{"émoji", false},
		{"tab\t", false},
	}
	for _, tt := range tests {
		if got := Valid(tt.id); got != tt.want {
			t.Errorf("Valid(%q) = %v, want %v", tt.id, got, tt.want)
		}
	}
}

var hex32 = regexp.MustCompile(`^[0-9a-f]{32}$`)

func TestNew(t *testing.T) {
	a, b := New(), New()
	if !hex32.MatchString(a) {
		t.Errorf("New() = %q, want 32 lowercase hex characters", a)
	}
	if a == b {
		t.Errorf("New() returned %q twice", a)
	}
}

func TestFromHeader(t *testing.T) {
	if got := FromHeader("client-id.1"); got != "client-id.1" {
		t.Errorf("FromHeader kept %q, want the client's id", got)
	}
	for _, bad := range []string{"", "bad id", strings.Repeat("y", 129)} {
		if got := FromHeader(bad); !hex32.MatchString(got) {
			t.Errorf("FromHeader(%q) = %q, want a new id", bad, got)
		}
	}
}

func TestContext(t *testing.T) {
	if got := FromContext(context.Background()); got != "" {
		t.Errorf("FromContext(empty) = %q, want \"\"", got)
	}
	ctx := NewContext(context.Background(), "abc")
	if got := FromContext(ctx); got != "abc" {
		t.Errorf("FromContext = %q, want abc", got)
	}
}
