package httpapi

import (
	"errors"
	"strings"
	"testing"
)

func TestValidatePredict(t *testing.T) {
	rows := func(n int) string {
		return `{"instances":[` + strings.Repeat(`[1,2],`, n-1) + `[1,2]]}`
	}
	tests := []struct {
		name string
		body string
		want string // "", "json" (400) or "shape" (422)
	}{
		{"one row", `{"instances":[[5.1,3.5,1.4,0.2]]}`, ""},
		{"several rows", `{"instances":[[5.1,3.5,1.4,0.2],[6.7,3.0,5.2,2.3]]}`, ""},
		{"number forms", `{"instances":[[0,-1,1e3,-2.5E-7,123456789012345678901234567890]]}`, ""},
		{"whitespace", " {\n\t\"instances\" : [ [ 1 ] ] }\n", ""},
		{"max rows", rows(MaxInstances), ""},
		{"ragged rows", `{"instances":[[1],[1,2,3]]}`, ""}, // the model's business

		{"empty", ``, "json"},
		{"blank", `   `, "json"},
		{"truncated", `{"instances":[[1,2]]`, "json"},
		{"trailing data", `{"instances":[[1]]} {}`, "json"},
		{"trailing comma", `{"instances":[[1,]]}`, "json"},
		{"single quotes", `{'instances':[[1]]}`, "json"},
		{"NaN", `{"instances":[[NaN]]}`, "json"},

		{"array", `[[1,2]]`, "shape"},
		{"null", `null`, "shape"},
		{"number", `42`, "shape"},
		{"string", `"instances"`, "shape"},
		{"empty object", `{}`, "shape"},
		{"extra key", `{"instances":[[1]],"model":"x"}`, "shape"},
		{"other key", `{"inputs":[[1]]}`, "shape"},
		{"instances null", `{"instances":null}`, "shape"},
		{"instances object", `{"instances":{"a":[1]}}`, "shape"},
		{"no rows", `{"instances":[]}`, "shape"},
		{"too many rows", rows(MaxInstances + 1), "shape"},
		{"flat row", `{"instances":[1,2,3]}`, "shape"},
		{"empty row", `{"instances":[[1],[]]}`, "shape"},
		{"string feature", `{"instances":[[1,"2"]]}`, "shape"},
		{"bool feature", `{"instances":[[true]]}`, "shape"},
		{"null feature", `{"instances":[[null]]}`, "shape"},
		{"nested row", `{"instances":[[[1]]]}`, "shape"},
		{"object feature", `{"instances":[[{"x":1}]]}`, "shape"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := validatePredict([]byte(tt.body))
			var shape *shapeError
			got := ""
			switch {
			case err == nil:
			case errors.Is(err, errNotJSON):
				got = "json"
			case errors.As(err, &shape):
				got = "shape"
			default:
				t.Fatalf("unexpected error type %T: %v", err, err)
			}
			if got != tt.want {
				t.Errorf("validatePredict(%.60q) = %v, want %q", tt.body, err, tt.want)
			}
		})
	}
}

func TestIsJSON(t *testing.T) {
	tests := []struct {
		ct   string
		want bool
	}{
		{"application/json", true},
		{"application/json; charset=utf-8", true},
		{"Application/JSON", true},
		{"", false},
		{"text/plain", false},
		{"application/x-www-form-urlencoded", false},
		{"application/problem+json", false},
		{"application/jsonx", false},
		{"application/json; charset", false},
	}
	for _, tt := range tests {
		if got := isJSON(tt.ct); got != tt.want {
			t.Errorf("isJSON(%q) = %v, want %v", tt.ct, got, tt.want)
		}
	}
}
