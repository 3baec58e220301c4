package httpapi

import (
	"errors"
	"strings"
	"testing"
)

func TestValidateChat(t *testing.T) {
	const msgs = `"messages":[{"role":"user","content":"hi"}]`
	tests := []struct {
		name   string
		body   string
		stream bool
		err    string // "": valid; "400": errNotJSON; else a part of the 422's detail
	}{
		{name: "minimal", body: `{"model":"ngram",` + msgs + `}`},
		{name: "every field", body: `{"model":"gpt-4o","messages":[{"role":"system","content":"be brief"},{"role":"developer","content":"x"},{"role":"user","content":[{"type":"text","text":"hi"},{"type":"text","text":""}]},{"role":"assistant","content":""},{"role":"tool","content":"42","tool_call_id":"c1"}],"max_completion_tokens":16,"max_tokens":99999999999999999999,"temperature":0,"seed":-9223372036854775808,"stream":true,"user":"u","top_p":1}`, stream: true},
		{name: "nulls", body: `{"model":"m",` + msgs + `,"max_completion_tokens":null,"max_tokens":null,"temperature":null,"seed":null,"stream":null}`},
		{name: "spaces", body: " { \"model\" : \"m\" , \"messages\" : [ { \"role\" : \"user\" , \"content\" : [ { \"type\" : \"text\" , \"text\" : \"hi\" } ] } ] , \"stream\" : true , \"seed\" : 7 } ", stream: true},
		{name: "temperature 2", body: `{"model":"m",` + msgs + `,"temperature":2}`},
		{name: "temperature 0.7", body: `{"model":"m",` + msgs + `,"temperature":0.7e0}`},
		{name: "seed max", body: `{"model":"m",` + msgs + `,"seed":9223372036854775807}`},
		{name: "last key wins", body: `{"model":1,"model":"m",` + msgs + `,"stream":"yes","stream":false}`},
		{name: "last key wins in a message", body: `{"model":"m","messages":[{"role":"robot","content":"hi","role":"user"}]}`},
		{name: "later stream wins", body: `{"model":"m",` + msgs + `,"stream":false,"stream":true}`, stream: true},

		{name: "empty", body: ``, err: "400"},
		{name: "truncated", body: `{"model":"m"`, err: "400"},
		{name: "not an object", body: `[1]`, err: "JSON object"},
		{name: "no model", body: `{` + msgs + `}`, err: `"model"`},
		{name: "empty model", body: `{"model":"",` + msgs + `}`, err: `"model"`},
		{name: "model null", body: `{"model":null,` + msgs + `}`, err: `"model"`},
		{name: "model number", body: `{"model":3,` + msgs + `}`, err: `"model"`},
		{name: "Model is another key", body: `{"Model":"m",` + msgs + `}`, err: `"model"`},
		{name: "last model empty", body: `{"model":"m","model":"",` + msgs + `}`, err: `"model"`},
		{name: "no messages", body: `{"model":"m"}`, err: `"messages"`},
		{name: "messages empty", body: `{"model":"m","messages":[]}`, err: `"messages"`},
		{name: "messages object", body: `{"model":"m","messages":{"role":"user","content":"hi"}}`, err: `"messages"`},
		{name: "message not an object", body: `{"model":"m","messages":["hi"]}`, err: "messages[0]"},
		{name: "unknown role", body: `{"model":"m","messages":[{"role":"user","content":"a"},{"role":"robot","content":"hi"}]}`, err: "messages[1].role"},
		{name: "role case", body: `{"model":"m","messages":[{"role":"User","content":"hi"}]}`, err: "messages[0].role"},
		{name: "no role", body: `{"model":"m","messages":[{"content":"hi"}]}`, err: "messages[0].role"},
		{name: "no content", body: `{"model":"m","messages":[{"role":"user"}]}`, err: "messages[0].content"},
		{name: "content null", body: `{"model":"m","messages":[{"role":"user","content":null}]}`, err: "messages[0].content"},
		{name: "content number", body: `{"model":"m","messages":[{"role":"user","content":1}]}`, err: "messages[0].content"},
		{name: "no parts", body: `{"model":"m","messages":[{"role":"user","content":[]}]}`, err: "messages[0].content"},
		{name: "image part", body: `{"model":"m","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"x"}}]}]}`, err: "messages[0].content[0]"},
		{name: "part without text", body: `{"model":"m","messages":[{"role":"user","content":[{"type":"text"}]}]}`, err: "messages[0].content[0]"},
		{name: "part text number", body: `{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"a"},{"type":"text","text":5}]}]}`, err: "messages[0].content[1]"},
		{name: "part a string", body: `{"model":"m","messages":[{"role":"user","content":["hi"]}]}`, err: "messages[0].content[0]"},
		{name: "max_completion_tokens 0", body: `{"model":"m",` + msgs + `,"max_completion_tokens":0}`, err: `"max_completion_tokens"`},
		{name: "max_completion_tokens negative", body: `{"model":"m",` + msgs + `,"max_completion_tokens":-3}`, err: `"max_completion_tokens"`},
		{name: "max_completion_tokens fraction", body: `{"model":"m",` + msgs + `,"max_completion_tokens":1.0}`, err: `"max_completion_tokens"`},
		{name: "max_tokens exponent", body: `{"model":"m",` + msgs + `,"max_tokens":1e2}`, err: `"max_tokens"`},
		{name: "max_tokens string", body: `{"model":"m",` + msgs + `,"max_tokens":"16"}`, err: `"max_tokens"`},
		{name: "temperature above 2", body: `{"model":"m",` + msgs + `,"temperature":2.0001}`, err: `"temperature"`},
		{name: "temperature negative", body: `{"model":"m",` + msgs + `,"temperature":-0.1}`, err: `"temperature"`},
		{name: "temperature string", body: `{"model":"m",` + msgs + `,"temperature":"1"}`, err: `"temperature"`},
		{name: "seed beyond int64", body: `{"model":"m",` + msgs + `,"seed":9223372036854775808}`, err: `"seed"`},
		{name: "seed fraction", body: `{"model":"m",` + msgs + `,"seed":1.5}`, err: `"seed"`},
		{name: "seed bool", body: `{"model":"m",` + msgs + `,"seed":true}`, err: `"seed"`},
		{name: "stream string", body: `{"model":"m",` + msgs + `,"stream":"true"}`, err: `"stream"`},
		{name: "stream number", body: `{"model":"m",` + msgs + `,"stream":1}`, err: `"stream"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stream, err := validateChat([]byte(tt.body))
			switch tt.err {
			case "":
				if err != nil || stream != tt.stream {
					t.Errorf("= %v, %v; want %v, nil", stream, err, tt.stream)
				}
			case "400":
				if !errors.Is(err, errNotJSON) {
					t.Errorf("error = %v, want errNotJSON", err)
				}
			default:
				if _, ok := errors.AsType[*shapeError](err); !ok || !strings.Contains(err.Error(), tt.err) {
					t.Errorf("error = %v, want a shape error naming %s", err, tt.err)
				}
			}
		})
	}
}
