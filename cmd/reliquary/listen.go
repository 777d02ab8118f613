package main

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// listen makes serve's HTTP server and its listener (TLS with --tls-cert).
func listen(cfg *serveConfig, h http.Handler, log *slog.Logger) (*http.Server, net.Listener, string, error) {
	httpSrv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: cfg.ReadHeaderTimeout,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		// No ReadTimeout/WriteTimeout: artifact streams may take hours.
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return nil, nil, "", fmt.Errorf("listen on %s: %w", cfg.Listen, err)
	}
	if cfg.TLSCert == "" {
		return httpSrv, ln, "http", nil
	}
	cert, err := tls.LoadX509KeyPair(cfg.TLSCert, cfg.TLSKey)
	if err != nil {
		ln.Close()
		return nil, nil, "", fmt.Errorf("TLS certificate: %w", err)
	}
	httpSrv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	return httpSrv, tls.NewListener(ln, httpSrv.TLSConfig), "https", nil
}
