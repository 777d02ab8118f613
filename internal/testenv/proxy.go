package testenv

import (
	"errors"
	"io"
	"net"
	"sync"
	"testing"
)

// Proxy is a TCP proxy on a loopback port in front of one address (a MinIO
// server): a node pointed at the proxy instead of the server can be cut off
// from it — a network partition between one node and the store — and
// reconnected, while every other node keeps talking to the server.
type Proxy struct {
	// Addr is the proxy's listening address, host:port.
	Addr   string
	target string
	l      net.Listener

	mu     sync.Mutex
	mode   proxyMode
	conns  map[net.Conn]struct{} // both sides of every live pair
	held   map[net.Conn]struct{} // connections accepted while blackholed
	closed bool
	cuts   int
	wg     sync.WaitGroup
}

type proxyMode int

const (
	proxyOpen      proxyMode = iota
	proxyRefuse              // new connections are closed at once
	proxyBlackhole           // new connections are accepted and never answered
)

// StartProxy listens on a free loopback port and forwards every connection
// to target. It stops at the end of the test.
func StartProxy(tb testing.TB, target string) *Proxy {
	tb.Helper()
	p, err := NewProxy(target)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(p.Close)
	return p
}

// NewProxy is StartProxy for callers without a testing.TB (the benchmark);
// they Close it.
func NewProxy(target string) (*Proxy, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &Proxy{Addr: l.Addr().String(), target: target, l: l,
		conns: map[net.Conn]struct{}{}, held: map[net.Conn]struct{}{}}
	p.wg.Add(1)
	go p.accept()
	return p, nil
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.l.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		p.mu.Lock()
		switch {
		case p.closed || p.mode == proxyRefuse:
			p.mu.Unlock()
			closeReset(c)
			continue
		case p.mode == proxyBlackhole:
			p.held[c] = struct{}{}
			p.mu.Unlock()
			continue
		}
		p.mu.Unlock()
		p.wg.Add(1)
		go p.forward(c)
	}
}

// forward dials the target for one accepted connection and copies both
// ways until either side closes or the proxy cuts them.
func (p *Proxy) forward(c net.Conn) {
	defer p.wg.Done()
	s, err := net.Dial("tcp", p.target)
	if err != nil {
		closeReset(c)
		return
	}
	p.mu.Lock()
	if p.closed || p.mode != proxyOpen { // cut while dialling
		p.mu.Unlock()
		closeReset(c)
		s.Close()
		return
	}
	p.conns[c], p.conns[s] = struct{}{}, struct{}{}
	p.mu.Unlock()
	var done sync.WaitGroup
	pipe := func(dst, src net.Conn) {
		defer done.Done()
		_, _ = io.Copy(dst, src)
		if tc, ok := dst.(*net.TCPConn); ok {
			_ = tc.CloseWrite()
		}
	}
	done.Add(2)
	go pipe(s, c)
	go pipe(c, s)
	done.Wait()
	p.mu.Lock()
	delete(p.conns, c)
	delete(p.conns, s)
	p.mu.Unlock()
	c.Close()
	s.Close()
}

// closeReset closes a connection with a TCP reset, as a dropped link looks
// to the client, instead of an orderly end of stream.
func closeReset(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	c.Close()
}

// Cut partitions: every live connection is reset and new ones are refused
// (accepted and reset at once) until Heal.
func (p *Proxy) Cut() { p.cut(proxyRefuse) }

// Blackhole partitions silently: live connections are reset and new ones
// are accepted but never answered (the client's own timeouts fire), until
// Heal.
func (p *Proxy) Blackhole() { p.cut(proxyBlackhole) }

func (p *Proxy) cut(m proxyMode) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.mode = m
	p.cuts++
	for c := range p.conns {
		closeReset(c)
	}
}

// Heal ends a partition: new connections are forwarded again and the ones
// held by Blackhole are reset (their client retries on a fresh one).
func (p *Proxy) Heal() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.mode = proxyOpen
	for c := range p.held {
		closeReset(c)
		delete(p.held, c)
	}
}

// IsCut reports whether the proxy is partitioned now.
func (p *Proxy) IsCut() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.mode != proxyOpen
}

// Cuts is how many times Cut or Blackhole was called.
func (p *Proxy) Cuts() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cuts
}

// Close stops the proxy and resets every connection.
func (p *Proxy) Close() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	p.l.Close()
	for c := range p.conns {
		closeReset(c)
	}
	for c := range p.held {
		closeReset(c)
	}
	p.mu.Unlock()
	p.wg.Wait()
}
