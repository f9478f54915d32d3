package config

import (
	"bytes"

	yaml "go.yaml.in/yaml/v3"
)

// Redacted is what Redact puts in place of a secret.
const Redacted = "<redacted>"

// secretKeys are the mapping keys whose scalar values are credentials: a
// JWT key's HMAC secret (auth.jwt.keys[].secret) and an API key in clear
// (auth.api_key.keys[].key). rate_limit.key is a list, never a scalar.
var secretKeys = map[string]bool{"secret": true, "key": true}

// Redact returns the config text with every credential replaced by
// Redacted, comments and layout kept, for showing a running config (the
// admin API's GET /config). Files named by the config (secret_file,
// htpasswd_file) are not read, so their paths stay. Text without a secret
// comes back as it was; text that does not parse as YAML is not shown.
func (c *Config) Redact() []byte {
	var doc yaml.Node
	if err := yaml.Unmarshal(c.Text, &doc); err != nil {
		return []byte("# the config text does not parse; not shown\n")
	}
	if !redactNode(&doc) {
		return c.Text
	}
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		return []byte("# the config text could not be re-encoded; not shown\n")
	}
	_ = enc.Close()
	return b.Bytes()
}

// redactNode redacts the secrets below n and reports whether it found any.
func redactNode(n *yaml.Node) bool {
	found := false
	if n.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if secretKeys[k.Value] && v.Kind == yaml.ScalarNode && v.Value != "" {
				v.Value, v.Style, v.Tag = Redacted, yaml.DoubleQuotedStyle, "!!str"
				found = true
			}
		}
	}
	for _, c := range n.Content {
		found = redactNode(c) || found
	}
	return found
}
