package httpapi

import (
	"errors"
	"strconv"
	"strings"
	"testing"
)

// maxRows is ML_MAX_BATCH in these tests.
const maxRows = 256

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
		{"largest float64", `{"instances":[[1.7976931348623157e308,-1.7976931348623157e308]]}`, ""},
		{"too small rounds to zero", `{"instances":[[1e-400,-4.9e-325]]}`, ""},
		{"instances twice, the last counts", `{"instances":"x","instances":[[1]]}`, ""},
		{"whitespace", " {\n\t\"instances\" : [ [ 1 ] ] }\n", ""},
		{"max rows", rows(maxRows), ""},
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
		{"too many rows", rows(maxRows + 1), "shape"},
		{"flat row", `{"instances":[1,2,3]}`, "shape"},
		{"empty row", `{"instances":[[1],[]]}`, "shape"},
		{"string feature", `{"instances":[[1,"2"]]}`, "shape"},
		{"bool feature", `{"instances":[[true]]}`, "shape"},
		{"null feature", `{"instances":[[null]]}`, "shape"},
		{"nested row", `{"instances":[[[1]]]}`, "shape"},
		{"object feature", `{"instances":[[{"x":1}]]}`, "shape"},
		{"bad value after many good ones", `{"instances":[[1,2],[3,4,[5]]]}`, "shape"},
		{"instances twice, the last is wrong", `{"instances":[[1]],"instances":[]}`, "shape"},
		{"Instances in another case", `{"Instances":[[1]]}`, "shape"},
		{"escaped key", `{"\u0069nstances":[[1]]}`, ""},
		// Bug: numbers beyond float64 passed, then the ML service read them
		// as infinity (422 over HTTP, a poison entry and a 504 over streams).
		{"1e999", `{"instances":[[1e999,1,2,3]]}`, "shape"},
		{"-1e999", `{"instances":[[-1e999,1,2,3]]}`, "shape"},
		{"just above float64", `{"instances":[[1.8e308]]}`, "shape"},
		{"huge exponent", `{"instances":[[1E400]]}`, "shape"},
		{"overflow in a later row", `{"instances":[[1],[2,3e999]]}`, "shape"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := validatePredict([]byte(tt.body), maxRows)
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

func TestValidatePredictMessages(t *testing.T) {
	tests := []struct {
		body string
		max  int
		want string
	}{
		{`{"instances":[[1,2],[3,"4"]]}`, 256, `instances[1][1] must be a number`},
		{`{"instances":[[1,2],[3,4e999]]}`, 256, `instances[1][1] is not a finite number`},
		{`{"instances":[[1],null]}`, 256, `instances[1] must be a non-empty array of numbers`},
		{`{"instances":[[1],5]}`, 256, `instances[1] must be a non-empty array of numbers`},
		{`{"instances":[["x"],[1],[1]]}`, 2, `"instances" must hold 1 to 2 rows, not 3`},
		{`{"instances":[[1],[1],[1]]}`, 3, ``},
		{`{"instances":{"a":[1]}}`, 256, `"instances" must be an array of rows`},
		{`{"instances":[[1]],"` + strings.Repeat("k", 1000) + `":1}`, 256,
			`unexpected key "` + strings.Repeat("k", 64) + `": the body may only hold "instances"`},
	}
	for _, tt := range tests {
		err := validatePredict([]byte(tt.body), tt.max)
		got := ""
		if err != nil {
			got = err.Error()
		}
		if got != tt.want {
			t.Errorf("validatePredict(%.60s, %d) = %q, want %q", tt.body, tt.max, got, tt.want)
		}
	}
}

// bigBody is a predict body of about 1 MiB: 256 rows of 400 features.
func bigBody() []byte {
	b := []byte(`{"instances":[`)
	for i := range 256 {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '[')
		for j := range 400 {
			if j > 0 {
				b = append(b, ',')
			}
			b = strconv.AppendFloat(b, float64(i*400+j)/7, 'f', 5, 64)
		}
		b = append(b, ']')
	}
	return append(b, "]}"...)
}

// BenchmarkValidatePredict: the body was decoded twice into any (json.Valid,
// then map[string]any and []any with json.Number): 207,655 allocations and
// 12.3 MB for this 1 MiB body.
func BenchmarkValidatePredict(b *testing.B) {
	body := bigBody()
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if err := validatePredict(body, maxRows); err != nil {
			b.Fatal(err)
		}
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
