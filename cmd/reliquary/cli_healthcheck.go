package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

// newHealthcheckCmd is the container's HEALTHCHECK: the distroless image
// has no shell or curl, so the binary probes itself.
func newHealthcheckCmd() *cobra.Command {
	var target string
	var ready bool
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "healthcheck",
		Short: "Probe a running server's /healthz (or /readyz): exit 0 when healthy, 1 when not",
		Long: `Probe a running server: GET /healthz (liveness), or /readyz with --ready (index and storage
reachable). Exit 0 when it answers 200, 1 otherwise. Without --url it probes this machine's
server at $RELIQUARY_LISTEN (0.0.0.0 becomes 127.0.0.1; https when $RELIQUARY_TLS_CERT is set,
without certificate verification since the target is the local server), else ` + DefaultURL + `.`,
		Example: `  reliquary healthcheck
  reliquary healthcheck --ready --url http://reliquary:8080
  # Dockerfile: HEALTHCHECK CMD ["/usr/local/bin/reliquary", "healthcheck"]`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			u, insecure := target, false
			if u == "" {
				u, insecure = localServerURL()
			}
			path := "/healthz"
			if ready {
				path = "/readyz"
			}
			tr := http.DefaultTransport.(*http.Transport).Clone()
			if insecure {
				tr.TLSClientConfig = &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS12} //nolint:gosec // the local server, by its own address
			}
			hc := &http.Client{Transport: tr, Timeout: timeout}
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(u, "/")+path, nil)
			if err != nil {
				return usageError{fmt.Errorf("--url %q: %w", u, err)}
			}
			resp, err := hc.Do(req)
			if err != nil {
				return fmt.Errorf("unhealthy: %w", err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				return errors.New("unhealthy: " + path + " answered " + resp.Status)
			}
			fmt.Fprintln(cmd.OutOrStdout(), "ok")
			return nil
		},
	}
	cmd.Flags().StringVar(&target, "url", "", "server URL (default: the local server at $RELIQUARY_LISTEN)")
	cmd.Flags().BoolVar(&ready, "ready", false, "probe /readyz (index and storage reachable) instead of /healthz")
	cmd.Flags().DurationVar(&timeout, "timeout", 3*time.Second, "give up after this long")
	return cmd
}

// localServerURL is the URL of the server configured by this environment.
func localServerURL() (u string, tlsOn bool) {
	listen := os.Getenv("RELIQUARY_LISTEN")
	if listen == "" {
		return DefaultURL, false
	}
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return DefaultURL, false
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
		if ip != nil && ip.To4() == nil {
			host = "::1"
		}
	}
	scheme := "http"
	if os.Getenv("RELIQUARY_TLS_CERT") != "" {
		scheme, tlsOn = "https", true
	}
	return scheme + "://" + net.JoinHostPort(host, port), tlsOn
}
