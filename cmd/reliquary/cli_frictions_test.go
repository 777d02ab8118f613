package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"testing"

	"github.com/reliquary/reliquary/api/client"
	"github.com/reliquary/reliquary/internal/testenv"
)

// TestToolCommandsHaveExamplesAndOutput: the offline tools and the new
// commands show examples, and the tools take -o json and -q like the
// client commands.
func TestToolCommandsHaveExamplesAndOutput(t *testing.T) {
	byPath := map[string]bool{}
	for _, c := range allCommands(newRootCmd()) {
		byPath[c.CommandPath()] = true
		switch c.CommandPath() {
		case "reliquary audit", "reliquary index", "reliquary audit verify", "reliquary index rebuild", "reliquary fsck",
			"reliquary backup", "reliquary url", "reliquary version", "reliquary healthcheck", "reliquary search":
			if c.Example == "" {
				t.Errorf("%s has no Example", c.CommandPath())
			}
		}
		switch c.CommandPath() {
		case "reliquary audit verify", "reliquary index rebuild", "reliquary fsck", "reliquary backup":
			if c.Flags().Lookup("output") == nil || c.Flags().ShorthandLookup("o") == nil || c.Flags().ShorthandLookup("q") == nil {
				t.Errorf("%s lacks -o/--output or -q", c.CommandPath())
			}
		}
	}
	for _, p := range []string{"reliquary url", "reliquary version", "reliquary healthcheck"} {
		if !byPath[p] {
			t.Errorf("no command %s", p)
		}
	}
}

func TestVersionCommand(t *testing.T) {
	for _, args := range [][]string{{"version"}, {"--version"}} {
		root := newRootCmd()
		var out bytes.Buffer
		root.SetOut(&out)
		root.SetArgs(args)
		if err := root.Execute(); err != nil {
			t.Fatal(err)
		}
		if s := out.String(); !strings.HasPrefix(s, "reliquary ") || !strings.Contains(s, runtime.Version()) || !strings.Contains(s, "commit ") {
			t.Errorf("%v printed %q", args, s)
		}
	}
	root := newRootCmd()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetArgs([]string{"version", "-o", "json"})
	if err := root.Execute(); err != nil {
		t.Fatal(err)
	}
	var v buildVersion
	if err := json.Unmarshal(out.Bytes(), &v); err != nil || v.GoVersion != runtime.Version() || v.Version == "" || v.Commit == "" {
		t.Errorf("version -o json: %s (%v)", out.Bytes(), err)
	}
}

func TestParseRefDropsVPrefix(t *testing.T) {
	for in, want := range map[string]ref{"hr@v1.2.0": {"hr", "1.2.0"}, "hr@V2.0.0-rc.1": {"hr", "2.0.0-rc.1"}, "hr@1.2.0": {"hr", "1.2.0"}} {
		if got, err := parseRef(in, true); err != nil || got != want {
			t.Errorf("parseRef(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	// A constraint keeps its text: Masterminds reads v prefixes itself.
	if got, _ := parseRef("hr@^v1", false); got.version != "^v1" {
		t.Errorf("constraint changed: %v", got)
	}
}

func TestLocalServerURL(t *testing.T) {
	cases := []struct{ listen, tls, want string }{
		{"", "", DefaultURL},
		{"0.0.0.0:8080", "", "http://127.0.0.1:8080"},
		{"[::]:9000", "", "http://[::1]:9000"},
		{":8443", "/etc/tls.crt", "https://127.0.0.1:8443"},
		{"10.0.0.5:8080", "", "http://10.0.0.5:8080"},
	}
	for _, tc := range cases {
		t.Setenv("RELIQUARY_LISTEN", tc.listen)
		t.Setenv("RELIQUARY_TLS_CERT", tc.tls)
		if got, _ := localServerURL(); got != tc.want {
			t.Errorf("RELIQUARY_LISTEN=%q: %s, want %s", tc.listen, got, tc.want)
		}
	}
}

// TestURLAndHealthcheckCommands: `reliquary url` prints a link that
// downloads the artifact with no token; `reliquary healthcheck` exits 0
// against a live server and fails against a dead one.
func TestURLAndHealthcheckCommands(t *testing.T) {
	srv := testenv.StartServer(t, testenv.ServerOptions{})
	ctx := t.Context()
	admin := client.New(srv.URL, srv.AdminToken)
	if _, err := admin.CreateProduct(ctx, client.ProductInput{Name: "hr"}); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.CreateRelease(ctx, "hr", client.ReleaseInput{Version: "v1.0.0"}); err != nil {
		t.Fatal(err)
	}
	data := []byte("the artifact's bytes\n")
	if _, _, err := admin.Upload(ctx, client.UploadInput{Product: "hr", Version: "1.0.0", Name: "hr.bin",
		Body: bytes.NewReader(data), Size: int64(len(data))}); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) (string, error) {
		root := newRootCmd()
		var out, errOut bytes.Buffer
		root.SetOut(&out)
		root.SetErr(&errOut)
		root.SetArgs(args)
		err := root.Execute()
		return out.String(), err
	}
	out, err := run("url", "hr@v1.0.0", "hr.bin", "--ttl", "2m", "--url", srv.URL, "--token", srv.AdminToken)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(strings.TrimSpace(out))
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !bytes.Equal(got, data) {
		t.Errorf("GET %s: %d %q", out, resp.StatusCode, got)
	}
	if _, err := run("url", "hr@1.0.0", "hr.bin", "--ttl", "0s", "--url", srv.URL); exitCode(err) != exitUsage {
		t.Errorf("--ttl 0s: %v", err)
	}

	if out, err := run("healthcheck", "--url", srv.URL); err != nil || strings.TrimSpace(out) != "ok" {
		t.Errorf("healthcheck: %q %v", out, err)
	}
	if _, err := run("healthcheck", "--ready", "--url", srv.URL); err != nil {
		t.Errorf("healthcheck --ready: %v", err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + l.Addr().String()
	l.Close()
	if _, err := run("healthcheck", "--url", dead, "--timeout", "1s"); exitCode(err) != exitFailure {
		t.Errorf("healthcheck of a dead server: %v", err)
	}
}
