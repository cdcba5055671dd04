// Package userdata is the model of a node's user-data (docs/design/userdata.md): the
// `ensemble` key of a cloud-config document, parsed strictly and validated, so that the
// first-boot command either applies a complete, consistent node or refuses with an error
// that names the field.
package userdata

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// MaxSize bounds a user-data document. Scaleway accepts far less per key; the bound keeps a
// broken source from filling memory.
const MaxSize = 1 << 20

// DefaultACMEDirectory is Let's Encrypt's production directory, used when acme_directory is empty.
const DefaultACMEDirectory = "https://acme-v02.api.letsencrypt.org/directory"

// Config is a node's validated user-data. Templates listed in outputs.json see it as their
// data (`.PublicName`, `.Consul.AgentToken`...), so its field names are part of the contract.
type Config struct {
	Version           int      `yaml:"version"`
	PublicName        string   `yaml:"public_name"`
	Region            string   `yaml:"region"`
	PrivateCIDR       string   `yaml:"private_cidr"`
	PrivateInterface  string   `yaml:"private_interface"`
	MonitoringSources []string `yaml:"monitoring_sources"`
	TLS               TLS      `yaml:"tls"`
	Consul            Consul   `yaml:"consul"`
	TURN              TURN     `yaml:"turn"`
}

// TLS says where the node's web certificate comes from.
type TLS struct {
	// Mode is ModeProvided or ModeACME.
	Mode string `yaml:"mode"`
	// Certificate and Key are PEM text (provided mode).
	Certificate string `yaml:"certificate"`
	Key         string `yaml:"key"`
	// ACMEEmail and ACMEDirectory configure ACME mode.
	ACMEEmail     string `yaml:"acme_email"`
	ACMEDirectory string `yaml:"acme_directory"`
}

// TLS modes.
const (
	ModeProvided = "provided"
	ModeACME     = "acme"
)

// Consul holds the node's Consul agent settings and secrets.
type Consul struct {
	Datacenter    string   `yaml:"datacenter"`
	RetryJoin     []string `yaml:"retry_join"`
	Encrypt       string   `yaml:"encrypt"`
	CACertificate string   `yaml:"ca_certificate"`
	AgentToken    string   `yaml:"agent_token"`
	SidecarToken  string   `yaml:"sidecar_token"`
}

// TURN holds coturn's shared secret.
type TURN struct {
	Secret string `yaml:"secret"`
}

// Error is a problem with one field of the user-data.
type Error struct {
	// Path names the field, e.g. "ensemble.consul.agent_token"; empty for the document.
	Path string
	// Msg says what is wrong, e.g. "is required".
	Msg string
}

func (e *Error) Error() string {
	if e.Path == "" {
		return "user-data: " + e.Msg
	}
	return "user-data: " + e.Path + " " + e.Msg
}

func fieldErr(path, format string, args ...any) error {
	return &Error{Path: path, Msg: fmt.Sprintf(format, args...)}
}

// Parse reads a cloud-config document, decodes its `ensemble` key strictly (unknown keys,
// duplicates and wrong types are errors naming the field) and validates it as of now.
// Every other cloud-config key is left to cloud-init.
func Parse(doc []byte, now time.Time) (*Config, error) {
	c, err := Decode(doc)
	if err != nil {
		return nil, err
	}
	if err := c.Validate(now); err != nil {
		return nil, err
	}
	return c, nil
}

// Decode reads a cloud-config document into a Config without validating the values.
func Decode(doc []byte) (*Config, error) {
	if len(doc) > MaxSize {
		return nil, fieldErr("", "is %d bytes, more than the %d allowed", len(doc), MaxSize)
	}
	first, _, _ := bytes.Cut(doc, []byte("\n"))
	if strings.TrimRight(string(first), " \t\r") != "#cloud-config" {
		return nil, fieldErr("", "is not a cloud-config document (its first line must be #cloud-config)")
	}
	var root yaml.Node
	if err := yaml.Unmarshal(doc, &root); err != nil {
		return nil, fieldErr("", "is not valid YAML: %v", err)
	}
	if root.Kind != yaml.DocumentNode || len(root.Content) != 1 || root.Content[0].Kind != yaml.MappingNode {
		return nil, fieldErr("", "must be a YAML mapping with a top-level key ensemble")
	}
	var ens *yaml.Node
	top := root.Content[0]
	for i := 0; i+1 < len(top.Content); i += 2 {
		if top.Content[i].Value == "ensemble" {
			if ens != nil {
				return nil, fieldErr("ensemble", "is given twice (line %d)", top.Content[i].Line)
			}
			ens = top.Content[i+1]
		}
	}
	if ens == nil || ens.Kind == 0 || (ens.Kind == yaml.ScalarNode && ens.Tag == "!!null") {
		return nil, fieldErr("ensemble", "is required")
	}
	var c Config
	if err := decodeStrict(ens, "ensemble", reflect.ValueOf(&c).Elem()); err != nil {
		return nil, err
	}
	return &c, nil
}

// decodeStrict decodes n into v field by field, so that every error carries the path of the
// field it is about. Structs must be mappings whose keys are all known.
func decodeStrict(n *yaml.Node, path string, v reflect.Value) error {
	if n.Kind == yaml.AliasNode {
		// Anchors and aliases are legal YAML but have no use in user-data; refusing them
		// also rules out alias bombs.
		return fieldErr(path, "uses a YAML alias (line %d); write the value out", n.Line)
	}
	if v.Kind() != reflect.Struct {
		if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
			return nil // an empty value is the same as a missing one
		}
		if v.Kind() == reflect.Slice && n.Kind != yaml.SequenceNode {
			return fieldErr(path, "must be a list (line %d)", n.Line)
		}
		if v.Kind() == reflect.String && n.Kind != yaml.ScalarNode {
			return fieldErr(path, "must be a string (line %d)", n.Line)
		}
		if v.Kind() == reflect.Slice {
			for i, item := range n.Content {
				if item.Kind != yaml.ScalarNode {
					return fieldErr(fmt.Sprintf("%s[%d]", path, i), "must be a string (line %d)", item.Line)
				}
			}
		}
		if err := n.Decode(v.Addr().Interface()); err != nil {
			var te *yaml.TypeError
			if errors.As(err, &te) && len(te.Errors) > 0 {
				return fieldErr(path, "has the wrong type: %s", te.Errors[0])
			}
			return fieldErr(path, "cannot be read: %v", err)
		}
		return nil
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		return fieldErr(path, "must be a mapping (line %d)", n.Line)
	}
	t := v.Type()
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		key := k.Value
		if k.Kind != yaml.ScalarNode {
			return fieldErr(path, "has a key that is not a string (line %d)", k.Line)
		}
		if key == "<<" {
			return fieldErr(path, "uses a YAML merge key (line %d); write the values out", k.Line)
		}
		sub := path + "." + key
		if seen[key] {
			return fieldErr(sub, "is given twice (line %d)", k.Line)
		}
		seen[key] = true
		f, ok := fieldByTag(t, key)
		if !ok {
			return fieldErr(sub, "is not a known setting (line %d)", k.Line)
		}
		if err := decodeStrict(val, sub, v.FieldByIndex(f.Index)); err != nil {
			return err
		}
	}
	return nil
}

func fieldByTag(t reflect.Type, key string) (reflect.StructField, bool) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if tag, _, _ := strings.Cut(f.Tag.Get("yaml"), ","); tag == key {
			return f, true
		}
	}
	return reflect.StructField{}, false
}
