package main

// Profiling hook for `make bench` and for chasing a hot path: with
// RELIQUARY_PPROF=127.0.0.1:6060 in its environment, `reliquary serve` also
// serves net/http/pprof on that address, e.g.
//
//	go tool pprof -top http://127.0.0.1:6060/debug/pprof/profile?seconds=10
//
// Only loopback addresses are accepted: the profile endpoints are
// unauthenticated. Unset (the default), nothing listens and nothing is
// registered; the other commands ignore the variable.

import (
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"time"
)

func init() {
	addr := os.Getenv("RELIQUARY_PPROF")
	if addr == "" || len(os.Args) < 2 || os.Args[1] != "serve" {
		return
	}
	if err := servePprof(addr); err != nil {
		fmt.Fprintf(os.Stderr, "reliquary: RELIQUARY_PPROF=%s: %v (profiling disabled)\n", addr, err)
	}
}

func servePprof(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return fmt.Errorf("%s is not a loopback address", host)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(os.Stderr, "reliquary: pprof on http://%s/debug/pprof/ (RELIQUARY_PPROF)\n", ln.Addr())
	go func() { _ = srv.Serve(ln) }()
	return nil
}
