package httpapi

import (
	"bytes"
	"encoding/json"
	"strconv"
)

// validateChat checks a chat completions body against the contract's table
// and says whether it asks for a stream. It returns errNotJSON or a
// *shapeError. Fields it does not know are left for the ML service; when a
// key appears twice in an object the last one counts, as in the ML
// service's parser. Keys are matched exactly (encoding/json's struct
// decoding would match "Model" too).
func validateChat(body []byte) (stream bool, err error) {
	if !json.Valid(body) { // syntax first: 400 before 422
		return false, errNotJSON
	}
	fields, ok := objectFields(body)
	if !ok {
		return false, shapef("the body must be a JSON object")
	}
	if err := checkModel(fields["model"]); err != nil {
		return false, err
	}
	if err := checkMessages(fields["messages"]); err != nil {
		return false, err
	}
	for _, key := range []string{"max_completion_tokens", "max_tokens"} {
		if v := fields[key]; !absent(v) && !positiveInteger(v) {
			return false, shapef("%q must be an integer of at least 1", key)
		}
	}
	if v := fields["temperature"]; !absent(v) && !numberIn(v, 0, 2) {
		return false, shapef(`"temperature" must be a number from 0 to 2`)
	}
	if v := fields["seed"]; !absent(v) && !int64Literal(v) {
		return false, shapef(`"seed" must be an integer from -2^63 to 2^63-1`)
	}
	switch v := string(fields["stream"]); v {
	case "", "null", "false":
		return false, nil
	case "true":
		return true, nil
	}
	return false, shapef(`"stream" must be a boolean`)
}

func checkModel(v json.RawMessage) error {
	if s, ok := stringValue(v); !ok || s == "" {
		return shapef(`"model" is required: a non-empty string`)
	}
	return nil
}

// chatRoles are the roles a message may have.
var chatRoles = map[string]bool{"system": true, "developer": true, "user": true, "assistant": true, "tool": true}

func checkMessages(v json.RawMessage) error {
	const want = `"messages" is required: a non-empty array of messages`
	if v == nil {
		return shapef(want)
	}
	dec := json.NewDecoder(bytes.NewReader(v))
	if tok, _ := dec.Token(); tok != json.Delim('[') {
		return shapef(want)
	}
	n := 0
	for ; dec.More(); n++ {
		var m json.RawMessage
		if err := dec.Decode(&m); err != nil {
			return errNotJSON // cannot happen: the body is valid JSON
		}
		if err := checkMessage(n, m); err != nil {
			return err
		}
	}
	if n == 0 {
		return shapef(want)
	}
	return nil
}

func checkMessage(i int, v json.RawMessage) error {
	fields, ok := objectFields(v)
	if !ok {
		return shapef("messages[%d] must be an object with a role and a content", i)
	}
	if role, ok := stringValue(fields["role"]); !ok || !chatRoles[role] {
		return shapef("messages[%d].role must be one of system, developer, user, assistant, tool", i)
	}
	content := fields["content"]
	if _, ok := stringValue(content); ok {
		return nil
	}
	const want = `messages[%d].content must be a string or a non-empty array of {"type":"text","text":...} parts`
	if content == nil {
		return shapef(want, i)
	}
	dec := json.NewDecoder(bytes.NewReader(content))
	if tok, _ := dec.Token(); tok != json.Delim('[') {
		return shapef(want, i)
	}
	n := 0
	for ; dec.More(); n++ {
		var part json.RawMessage
		if err := dec.Decode(&part); err != nil {
			return errNotJSON // cannot happen: the body is valid JSON
		}
		if !textPart(part) {
			return shapef(`messages[%d].content[%d] must be {"type":"text","text":<string>}`, i, n)
		}
	}
	if n == 0 {
		return shapef(want, i)
	}
	return nil
}

// textPart reports whether v is a content part {"type":"text","text":S}.
func textPart(v json.RawMessage) bool {
	fields, ok := objectFields(v)
	if !ok {
		return false
	}
	typ, ok := stringValue(fields["type"])
	if !ok || typ != "text" {
		return false
	}
	_, ok = stringValue(fields["text"])
	return ok
}

// objectFields returns the members of the JSON object v (valid JSON), the
// last value of each key, or false when v is not an object.
func objectFields(v json.RawMessage) (map[string]json.RawMessage, bool) {
	dec := json.NewDecoder(bytes.NewReader(v))
	if tok, _ := dec.Token(); tok != json.Delim('{') {
		return nil, false
	}
	fields := map[string]json.RawMessage{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, false
		}
		key, _ := tok.(string)
		var value json.RawMessage
		if err := dec.Decode(&value); err != nil {
			return nil, false
		}
		fields[key] = value
	}
	return fields, true
}

// stringValue returns the JSON string v, decoded, or false when v is not
// a string (or absent).
func stringValue(v json.RawMessage) (string, bool) {
	if len(v) == 0 || v[0] != '"' {
		return "", false
	}
	var s string
	if err := json.Unmarshal(v, &s); err != nil {
		return "", false
	}
	return s, true
}

// absent reports whether an optional field is missing or null.
func absent(v json.RawMessage) bool { return v == nil || string(v) == "null" }

// isInteger reports whether the JSON value v is a number without fraction
// or exponent.
func isInteger(v json.RawMessage) bool {
	digits := bytes.TrimPrefix(v, []byte("-"))
	if len(digits) == 0 {
		return false
	}
	for _, c := range digits {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// positiveInteger reports whether v is an integer >= 1, however large (the
// ML service says how many tokens it gives).
func positiveInteger(v json.RawMessage) bool {
	return isInteger(v) && v[0] != '-' && v[0] != '0'
}

// int64Literal reports whether v is an integer that fits an int64.
func int64Literal(v json.RawMessage) bool {
	if !isInteger(v) {
		return false
	}
	_, err := strconv.ParseInt(string(v), 10, 64)
	return err == nil
}

// numberIn reports whether v is a JSON number from lo to hi.
func numberIn(v json.RawMessage, lo, hi float64) bool {
	if numberEnd(v) != len(v) {
		return false
	}
	f, err := strconv.ParseFloat(string(v), 64)
	return err == nil && f >= lo && f <= hi
}
