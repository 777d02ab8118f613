package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
)

// loadWith binds the flags of serve (or only the store flags), parses
// args and loads the YAML text as the --config file.
func loadWith(t *testing.T, storeOnly bool, args []string, yaml string) (serveConfig, error) {
	t.Helper()
	var cfg serveConfig
	cmd := &cobra.Command{Use: "serve"}
	if storeOnly {
		cfg.bindStoreFlags(cmd.Flags())
	} else {
		cfg.bindFlags(cmd.Flags())
	}
	cmd.Flags().String("config", "", "")
	if err := cmd.Flags().Parse(args); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "c.yaml")
	if err := os.WriteFile(file, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	if storeOnly {
		if err := cfg.fill(cmd, file); err != nil {
			return cfg, err
		}
		return cfg, cfg.validateStore()
	}
	return cfg, cfg.load(cmd, file)
}

// TestConfigFileTyped: the --config file is decoded into the typed
// struct: every kind of field (string, bool, int, duration, list) takes
// its YAML value, and keys the file leaves out keep their flag defaults.
func TestConfigFileTyped(t *testing.T) {
	cfg, err := loadWith(t, false, nil, `
listen: 127.0.0.1:9999
anonymous-read: true
max-uploads-per-token: 3
shutdown-timeout: 5s
oidc-issuer: [https://a.example.com, https://b.example.com]
memory-limit: 192MiB
`)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Listen != "127.0.0.1:9999" || !cfg.AnonymousRead || cfg.MaxUploadsPerToken != 3 ||
		cfg.ShutdownTimeout != 5*time.Second || cfg.MemoryLimit != "192MiB" ||
		!slices.Equal(cfg.OIDCIssuers, []string{"https://a.example.com", "https://b.example.com"}) {
		t.Errorf("file values not applied: %+v", cfg)
	}
	if cfg.Storage != "fs" || cfg.LogLevel != "info" || cfg.UISessionTTL != 8*time.Hour {
		t.Errorf("defaults lost: storage %q log-level %q ui-session-ttl %s", cfg.Storage, cfg.LogLevel, cfg.UISessionTTL)
	}
	// An empty file is no settings at all.
	if _, err := loadWith(t, false, nil, ""); err != nil {
		t.Errorf("empty file: %v", err)
	}
}

// TestConfigFilePrecedence: flag > RELIQUARY_* > file, per setting.
func TestConfigFilePrecedence(t *testing.T) {
	const file = "max-uploads-per-token: 3\nlog-level: debug\nshutdown-timeout: 5s\n"
	t.Setenv("RELIQUARY_MAX_UPLOADS_PER_TOKEN", "7")
	t.Setenv("RELIQUARY_LOG_LEVEL", "warn")
	cfg, err := loadWith(t, false, []string{"--log-level", "error"}, file)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.LogLevel != "error" || cfg.MaxUploadsPerToken != 7 || cfg.ShutdownTimeout != 5*time.Second {
		t.Errorf("log-level %q (want the flag's error), max-uploads %d (want env 7), shutdown-timeout %s (want the file's 5s)",
			cfg.LogLevel, cfg.MaxUploadsPerToken, cfg.ShutdownTimeout)
	}
}

// TestConfigFileStrict: an unknown key, a value of the wrong type and a
// file that is not a mapping are refused with the key or line named.
func TestConfigFileStrict(t *testing.T) {
	for _, tc := range []struct{ yaml, want string }{
		{"listen: 127.0.0.1:8080\nlisten-port: 80\n", "listen-port"},
		{"storage-class: cold\n", "storage-class"},
		{"max-uploads-per-token: lots\n", "line 1"},
		{"anonymous-read: maybe\n", "line 1"},
		{"shutdown-timeout: soon\n", "soon"},
		{"log-level: info\nshutdown-timeout: 30\n", "line 2"}, // a bare number is not a duration
		{"oidc-issuer: {a: b}\n", "line 1"},
		{"- listen\n", "line 1"},
		{"listen: [\n", "line"},
	} {
		_, err := loadWith(t, false, nil, tc.yaml)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "--config") {
			t.Errorf("%q: %v, want an error about %q", tc.yaml, err, tc.want)
		}
	}
}

// TestConfigFileSharedByOfflineTools: fsck and the other store tools
// read the same file as serve; settings they have no flag for are
// ignored, while an unknown key is still refused.
func TestConfigFileSharedByOfflineTools(t *testing.T) {
	cfg, err := loadWith(t, true, nil, "listen: 127.0.0.1:9999\ndata-dir: /srv/reliquary\n")
	if err != nil || cfg.DataDir != "/srv/reliquary" || cfg.Listen != "" {
		t.Errorf("data-dir %q listen %q: %v", cfg.DataDir, cfg.Listen, err)
	}
	if _, err := loadWith(t, true, nil, "data-dri: /srv\n"); err == nil || !strings.Contains(err.Error(), "data-dri") {
		t.Errorf("typo accepted: %v", err)
	}
}

// TestValidateStoreInValidate: the store checks are written once; serve's
// validate and the offline tools' validateStore both report them.
func TestValidateStoreInValidate(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--storage", "tape"}, "--storage"},
		{[]string{"--storage-timeout", "0s"}, "--storage-timeout"},
		{[]string{"--data-dir", ""}, "--data-dir"},
		{[]string{"--storage", "s3"}, "s3"},
	} {
		_, err := loadWith(t, true, tc.args, "")
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("store tools %v: %v, want an error about %q", tc.args, err, tc.want)
		}
		_, err = loadWith(t, false, tc.args, "")
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Count(err.Error(), tc.want+" ") > 1 {
			t.Errorf("serve %v: %v, want one error about %q", tc.args, err, tc.want)
		}
	}
}
