package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/pflag"
	"go.yaml.in/yaml/v3"
)

// envOnly are RELIQUARY_* variables that are not flags.
var envOnly = map[string]bool{"RELIQUARY_SIGNING_KEY_PASSWORD": true, "RELIQUARY_PPROF": true}

// TestComposeFiles reads the compose files (Docker cannot run here) and
// checks what can be checked without it: every RELIQUARY_* variable given
// to a Reliquary service names a `serve` flag, and in compose.cluster.yaml
// three nodes share one bucket, one signing key, one secrets key and one
// admin token, each with its own node id, volume and port, and every
// secret and volume they use is declared.
func TestComposeFiles(t *testing.T) {
	fs := newServeCmd().Flags()
	flagEnv := map[string]bool{}
	fs.VisitAll(func(f *pflag.Flag) {
		flagEnv["RELIQUARY_"+strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))] = true
	})
	type service struct {
		Image       string            `yaml:"image"`
		Environment map[string]string `yaml:"environment"`
		Secrets     []string          `yaml:"secrets"`
		Volumes     []string          `yaml:"volumes"`
		Ports       []string          `yaml:"ports"`
	}
	type compose struct {
		Services map[string]service `yaml:"services"`
		Secrets  map[string]any     `yaml:"secrets"`
		Volumes  map[string]any     `yaml:"volumes"`
	}
	load := func(name string) compose {
		b, err := os.ReadFile(filepath.Join("..", "..", name))
		if err != nil {
			t.Fatal(err)
		}
		var c compose
		if err := yaml.Unmarshal(b, &c); err != nil { // resolves the x-node anchors and merge keys
			t.Fatalf("%s: %v", name, err)
		}
		for sname, s := range c.Services {
			if s.Image != "reliquary:local" {
				continue
			}
			for k := range s.Environment {
				if strings.HasPrefix(k, "RELIQUARY_") && !flagEnv[k] && !envOnly[k] {
					t.Errorf("%s: service %s sets %s, which is no `reliquary serve` flag", name, sname, k)
				}
			}
			for _, sec := range s.Secrets {
				if _, ok := c.Secrets[sec]; !ok {
					t.Errorf("%s: service %s uses undeclared secret %s", name, sname, sec)
				}
			}
			for _, v := range s.Volumes {
				if vol, _, _ := strings.Cut(v, ":"); !strings.HasPrefix(vol, ".") && !strings.HasPrefix(vol, "/") {
					if _, ok := c.Volumes[vol]; !ok {
						t.Errorf("%s: service %s uses undeclared volume %s", name, sname, vol)
					}
				}
			}
		}
		return c
	}
	load("compose.yaml")

	c := load("compose.cluster.yaml")
	same := []string{"RELIQUARY_STORAGE", "RELIQUARY_S3_ENDPOINT", "RELIQUARY_S3_BUCKET", "RELIQUARY_SIGNING_KEY", "RELIQUARY_SECRETS_KEY", "RELIQUARY_ADMIN_TOKEN"}
	var nodes []service
	ids, vols, ports := map[string]bool{}, map[string]bool{}, map[string]bool{}
	for _, n := range []string{"node1", "node2", "node3"} {
		s, ok := c.Services[n]
		if !ok || s.Image != "reliquary:local" {
			t.Fatalf("compose.cluster.yaml: no Reliquary service %s", n)
		}
		nodes = append(nodes, s)
		ids[s.Environment["RELIQUARY_NODE_ID"]] = true
		if len(s.Volumes) != 1 || len(s.Ports) != 1 {
			t.Fatalf("%s: volumes %v, ports %v: want one each", n, s.Volumes, s.Ports)
		}
		vols[s.Volumes[0]] = true
		ports[s.Ports[0]] = true
		for _, k := range same {
			if s.Environment[k] == "" {
				t.Errorf("%s: %s unset", n, k)
			}
			if s.Environment[k] != nodes[0].Environment[k] {
				t.Errorf("%s: %s = %q, node1 has %q", n, k, s.Environment[k], nodes[0].Environment[k])
			}
		}
		if !strings.HasPrefix(s.Environment["RELIQUARY_SIGNING_KEY"], "/run/secrets/") || !strings.HasPrefix(s.Environment["RELIQUARY_SECRETS_KEY"], "/run/secrets/") {
			t.Errorf("%s: the keys are not read from compose secrets", n)
		}
	}
	if len(ids) != 3 || ids[""] || len(vols) != 3 || len(ports) != 3 {
		t.Errorf("node ids %v, volumes %v, ports %v: want three distinct of each", ids, vols, ports)
	}
}
