package jvb

// The scanner that reads a /colibri/stats reply into Stats.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"unicode/utf8"
)

// ErrNotObject means the body was valid JSON but not an object.
var ErrNotObject = errors.New("colibri stats: JSON is not an object")

// ParseStats decodes a /colibri/stats body. Unknown keys are skipped and
// missing keys (and null values) are simply absent; a known key with the
// wrong JSON type is an error naming the key, because a silent zero would
// be read as real load.
//
// The reply is one flat object, so a small scanner reads it instead of
// encoding/json: a scrape then costs one allocation here rather than one
// per key. FuzzStats checks it against encoding/json.
func ParseStats(body []byte) (*Stats, error) {
	s := &Stats{}
	p := scanner{b: body}
	if err := p.object(s); err != nil {
		trimmed := bytes.TrimSpace(body)
		var te *typeError
		switch {
		case errors.As(err, &te):
			return nil, fmt.Errorf("colibri stats: %w", err)
		case len(trimmed) > 0 && trimmed[0] == '<':
			return nil, fmt.Errorf("colibri stats: got HTML or XML instead of JSON (a proxy error page or the wrong URL?): %w", err)
		case errors.Is(err, ErrNotObject):
			return nil, err
		}
		return nil, fmt.Errorf("colibri stats: invalid JSON: %w", err)
	}
	return s, nil
}

// typeError is a known key with a value of the wrong JSON type.
type typeError struct {
	key       string
	got, want string
}

func (e *typeError) Error() string {
	return fmt.Sprintf("field %q is %s, want a %s", e.key, e.got, e.want)
}

// scanner reads one flat JSON object. It accepts exactly what encoding/json
// accepts (nested values of unknown keys are checked with json.Valid).
type scanner struct {
	b   []byte
	pos int
}

func (p *scanner) errorf(format string, args ...any) error {
	return fmt.Errorf("offset %d: "+format, append([]any{p.pos}, args...)...)
}

func (p *scanner) ws() {
	for p.pos < len(p.b) {
		switch p.b[p.pos] {
		case ' ', '\t', '\n', '\r':
			p.pos++
		default:
			return
		}
	}
}

func (p *scanner) object(s *Stats) error {
	p.ws()
	if p.pos >= len(p.b) {
		return p.errorf("unexpected end of input")
	}
	if p.b[p.pos] != '{' {
		if json.Valid(p.b) {
			return ErrNotObject
		}
		return p.errorf("invalid character %q looking for beginning of value", p.b[p.pos])
	}
	p.pos++
	p.ws()
	if p.pos < len(p.b) && p.b[p.pos] == '}' {
		p.pos++
		return p.end()
	}
	for {
		p.ws()
		key, escaped, err := p.str()
		if err != nil {
			return err
		}
		p.ws()
		if p.pos >= len(p.b) || p.b[p.pos] != ':' {
			return p.errorf("want ':' after object key")
		}
		p.pos++
		p.ws()
		idx := -1
		if !escaped {
			if i, ok := knownIndex[string(key)]; ok {
				idx = i
			}
		} else if k, err := unquote(key); err == nil {
			if i, ok := knownIndex[k]; ok {
				idx = i
			}
		}
		if err := p.value(s, idx); err != nil {
			return err
		}
		p.ws()
		if p.pos >= len(p.b) {
			return p.errorf("unexpected end of input")
		}
		switch p.b[p.pos] {
		case ',':
			p.pos++
		case '}':
			p.pos++
			return p.end()
		default:
			return p.errorf("invalid character %q after object value", p.b[p.pos])
		}
	}
}

func (p *scanner) end() error {
	p.ws()
	if p.pos != len(p.b) {
		return p.errorf("invalid character %q after top-level value", p.b[p.pos])
	}
	return nil
}

// str scans a string at pos and returns its raw contents (without quotes)
// and whether it contains escapes.
func (p *scanner) str() (raw []byte, escaped bool, err error) {
	if p.pos >= len(p.b) || p.b[p.pos] != '"' {
		return nil, false, p.errorf("want a string")
	}
	start := p.pos + 1
	for i := start; i < len(p.b); i++ {
		switch c := p.b[i]; {
		case c == '"':
			p.pos = i + 1
			return p.b[start:i], escaped, nil
		case c == '\\':
			escaped = true
			if i+1 >= len(p.b) {
				break
			}
			switch p.b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i++
			case 'u':
				if i+5 >= len(p.b) || !isHex4(p.b[i+2:i+6]) {
					p.pos = i
					return nil, false, p.errorf("invalid \\u escape")
				}
				i += 5
			default:
				p.pos = i
				return nil, false, p.errorf("invalid escape")
			}
		case c < 0x20:
			p.pos = i
			return nil, false, p.errorf("control character in string")
		}
	}
	p.pos = len(p.b)
	return nil, false, p.errorf("unterminated string")
}

func isHex4(b []byte) bool {
	for _, c := range b {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// unquote decodes raw string contents the way encoding/json does.
func unquote(raw []byte) (string, error) {
	quoted := make([]byte, 0, len(raw)+2)
	quoted = append(append(append(quoted, '"'), raw...), '"')
	var s string
	err := json.Unmarshal(quoted, &s)
	return s, err
}

func (p *scanner) value(s *Stats, idx int) error {
	if p.pos >= len(p.b) {
		return p.errorf("unexpected end of input")
	}
	want := kind(0)
	var key string
	if idx >= 0 {
		want, key = known[idx].kind, known[idx].key
	}
	mismatch := func(got string) error {
		if want == 0 {
			return nil
		}
		return &typeError{key: key, got: got, want: want.String()}
	}
	if want == kindAny {
		start := p.pos
		if err := p.value(s, -1); err != nil {
			return err
		}
		s.present[idx] = string(p.b[start:p.pos]) != "null"
		return nil
	}
	switch c := p.b[p.pos]; {
	case c == '"':
		raw, escaped, err := p.str()
		if err != nil {
			return err
		}
		if want == kindDist {
			v, err := unquote(raw)
			if err != nil {
				return err
			}
			return s.setDist(idx, []byte(v), "a string")
		}
		if want != kindText {
			return mismatch("a string")
		}
		if escaped || !utf8.Valid(raw) {
			// Rare: let encoding/json apply its escape and UTF-8 rules.
			v, err := unquote(raw)
			if err != nil {
				return err
			}
			s.texts[idx] = v
		} else {
			s.texts[idx] = string(raw)
		}
		s.present[idx] = true
	case c == 't' || c == 'f' || c == 'n':
		var lit string
		switch c {
		case 't':
			lit = "true"
		case 'f':
			lit = "false"
		default:
			lit = "null"
		}
		if !bytes.HasPrefix(p.b[p.pos:], []byte(lit)) {
			return p.errorf("invalid literal")
		}
		p.pos += len(lit)
		if want == 0 {
			return nil
		}
		if lit == "null" {
			s.present[idx] = false // null reads as absent
			return nil
		}
		if want != kindBool {
			return mismatch("a boolean")
		}
		s.present[idx] = true
		s.numbers[idx] = 0
		if c == 't' {
			s.numbers[idx] = 1
		}
	case c == '-' || '0' <= c && c <= '9':
		tok, err := p.number()
		if err != nil {
			return err
		}
		if want == 0 {
			return nil
		}
		if want != kindNumber {
			return mismatch("a number")
		}
		v, err := parseNumber(tok)
		if err != nil {
			return fmt.Errorf("field %q: %w", key, err)
		}
		s.numbers[idx], s.present[idx] = v, true
	case c == '{' || c == '[':
		start := p.pos
		if err := p.skipNested(); err != nil {
			return err
		}
		if !json.Valid(p.b[start:p.pos]) {
			p.pos = start
			return p.errorf("invalid nested value")
		}
		switch {
		case want == kindDist && c == '[':
			return s.setDist(idx, p.b[start:p.pos], "an array")
		case want == kindDist:
			return nil // Jicofo's histogram object: not the bridge's buckets
		case c == '{':
			return mismatch("an object")
		}
		return mismatch("an array")
	default:
		return p.errorf("invalid character %q looking for beginning of value", c)
	}
	return nil
}

// number scans a JSON number token.
func (p *scanner) number() ([]byte, error) {
	start := p.pos
	b := p.b
	i := p.pos
	if b[i] == '-' {
		i++
	}
	digits := func() int {
		n := 0
		for i < len(b) && '0' <= b[i] && b[i] <= '9' {
			i++
			n++
		}
		return n
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case digits() == 0:
		p.pos = i
		return nil, p.errorf("invalid number")
	}
	if i < len(b) && b[i] == '.' {
		i++
		if digits() == 0 {
			p.pos = i
			return nil, p.errorf("invalid number")
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if digits() == 0 {
			p.pos = i
			return nil, p.errorf("invalid number")
		}
	}
	p.pos = i
	return b[start:i], nil
}

// parseNumber converts a valid JSON number token; plain integers of up to
// 15 digits (every bridge counter in practice) skip strconv.
func parseNumber(tok []byte) (float64, error) {
	if len(tok) <= 15 {
		var v float64
		plain := true
		for _, c := range tok {
			if c < '0' || c > '9' {
				plain = false
				break
			}
			v = v*10 + float64(c-'0')
		}
		if plain {
			return v, nil
		}
	}
	v, err := strconv.ParseFloat(string(tok), 64)
	if err != nil {
		return 0, fmt.Errorf("number %s out of range", tok)
	}
	return v, nil
}

// skipNested moves past an object or array, honouring strings; its
// validity is checked by the caller.
func (p *scanner) skipNested() error {
	depth := 0
	for p.pos < len(p.b) {
		switch p.b[p.pos] {
		case '"':
			if _, _, err := p.str(); err != nil {
				return err
			}
			continue
		case '{', '[':
			depth++
		case '}', ']':
			depth--
			if depth == 0 {
				p.pos++
				return nil
			}
		}
		p.pos++
	}
	return p.errorf("unexpected end of input")
}
