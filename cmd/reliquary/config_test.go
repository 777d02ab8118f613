package main

import (
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

func TestParseBytes(t *testing.T) {
	for in, want := range map[string]int64{"": 0, "192MiB": 192 << 20, "1GiB": 1 << 30, "512KiB": 512 << 10, "1048576": 1 << 20} {
		if got, err := parseBytes(in); err != nil || got != want {
			t.Errorf("parseBytes(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"12XB", "-1MiB", "0", "MiB", "1.5GiB", "99999999999GiB"} {
		if _, err := parseBytes(bad); err == nil {
			t.Errorf("parseBytes(%q) accepted", bad)
		}
	}
}

func TestValidateLogLevel(t *testing.T) {
	for level, ok := range map[string]bool{"debug": true, "info": true, "WARN": true, "error": true, "loud": false, "": false} {
		var c serveConfig
		fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
		c.bindFlags(fs)
		c.LogLevel = level
		err := c.validate()
		if ok && err != nil {
			t.Errorf("--log-level %q: %v", level, err)
		}
		if !ok && (err == nil || !strings.Contains(err.Error(), "--log-level")) {
			t.Errorf("--log-level %q accepted (err %v)", level, err)
		}
	}
}
