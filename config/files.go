package config

import "fmt"

// FileRef is a file a config names, with its field path
// ("routes[3].auth.basic.htpasswd_file").
type FileRef struct {
	Path string
	File string
}

// Files returns the files c names: JWT key files, htpasswd files, the
// admin token file, TLS certificates, keys and CA files, and the
// ip_filter list files, in config order. The engine and the gateway read them
// when they start; hotpath -check reads them even when the config has
// other problems.
func (c *Config) Files() []FileRef {
	var out []FileRef
	add := func(path, file string) {
		if file != "" {
			out = append(out, FileRef{Path: path, File: file})
		}
	}
	for i, r := range c.Routes {
		a := r.Auth
		if a == nil {
			continue
		}
		p := fmt.Sprintf("routes[%d].auth", i)
		if a.JWT != nil {
			for k, key := range a.JWT.Keys {
				kp := fmt.Sprintf("%s.jwt.keys[%d]", p, k)
				add(kp+".secret_file", key.SecretFile)
				add(kp+".public_key_file", key.PublicKeyFile)
			}
		}
		if a.Basic != nil {
			add(p+".basic.htpasswd_file", a.Basic.HtpasswdFile)
		}
	}
	add("admin.token_file", c.Admin.TokenFile)
	for i, l := range c.Listeners {
		if t := l.TLS; t != nil {
			p := fmt.Sprintf("listeners[%d].tls", i)
			for j, cert := range t.Certificates {
				add(fmt.Sprintf("%s.certificates[%d].cert_file", p, j), cert.CertFile)
				add(fmt.Sprintf("%s.certificates[%d].key_file", p, j), cert.KeyFile)
			}
			add(p+".client_ca_file", t.ClientCAFile)
		}
	}
	for i, u := range c.Upstreams {
		if t := u.TLS; t != nil {
			p := fmt.Sprintf("upstreams[%d].tls", i)
			add(p+".ca_file", t.CAFile)
			add(p+".cert_file", t.CertFile)
			add(p+".key_file", t.KeyFile)
		}
	}
	for i, r := range c.Redis {
		add(fmt.Sprintf("redis[%d].password_file", i), r.PasswordFile)
		if r.Sentinel != nil {
			add(fmt.Sprintf("redis[%d].sentinel.password_file", i), r.Sentinel.PasswordFile)
		}
	}
	add("etcd.password_file", c.Etcd.PasswordFile)
	c.edgeFiles(add)
	return out
}
