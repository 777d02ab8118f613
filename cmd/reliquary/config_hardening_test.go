package main

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/spf13/cobra"
)

// --body-idle-timeout and --webhook-allow-private are flags, RELIQUARY_*
// variables and YAML keys like every other setting; the defaults are 30s
// and false, and a non-positive idle timeout is refused.
func TestHardeningSettings(t *testing.T) {
	load := func(t *testing.T, args []string, yaml string) (serveConfig, error) {
		var cfg serveConfig
		cmd := &cobra.Command{Use: "serve"}
		cfg.bindFlags(cmd.Flags())
		cmd.Flags().String("config", "", "")
		if err := cmd.Flags().Parse(args); err != nil {
			return cfg, err
		}
		file := ""
		if yaml != "" {
			file = filepath.Join(t.TempDir(), "c.yaml")
			if err := os.WriteFile(file, []byte(yaml), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		return cfg, cfg.load(cmd, file)
	}
	cfg, err := load(t, nil, "")
	if err != nil || cfg.BodyIdleTimeout != 30*time.Second || cfg.WebhookAllowPrivate {
		t.Errorf("defaults: %v %v %v", cfg.BodyIdleTimeout, cfg.WebhookAllowPrivate, err)
	}
	cfg, err = load(t, []string{"--body-idle-timeout", "5s", "--webhook-allow-private"}, "")
	if err != nil || cfg.BodyIdleTimeout != 5*time.Second || !cfg.WebhookAllowPrivate {
		t.Errorf("flags: %v %v %v", cfg.BodyIdleTimeout, cfg.WebhookAllowPrivate, err)
	}
	cfg, err = load(t, nil, "body-idle-timeout: 7s\nwebhook-allow-private: true\n")
	if err != nil || cfg.BodyIdleTimeout != 7*time.Second || !cfg.WebhookAllowPrivate {
		t.Errorf("yaml: %v %v %v", cfg.BodyIdleTimeout, cfg.WebhookAllowPrivate, err)
	}
	t.Setenv("RELIQUARY_BODY_IDLE_TIMEOUT", "9s")
	t.Setenv("RELIQUARY_WEBHOOK_ALLOW_PRIVATE", "true")
	cfg, err = load(t, nil, "body-idle-timeout: 7s\n")
	if err != nil || cfg.BodyIdleTimeout != 9*time.Second || !cfg.WebhookAllowPrivate {
		t.Errorf("environment: %v %v %v", cfg.BodyIdleTimeout, cfg.WebhookAllowPrivate, err)
	}
	if _, err := load(t, []string{"--body-idle-timeout", "0s"}, ""); err == nil {
		t.Error("--body-idle-timeout 0s accepted")
	}
}
