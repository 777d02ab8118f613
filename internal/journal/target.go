package journal

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"syscall"
	"time"
)

// ErrTargetForbidden: a webhook URL names (or resolves to) an address the
// service must not call: loopback, private, link-local, unique-local or
// unspecified (DESIGN §8 "Webhook targets").
var ErrTargetForbidden = errors.New("webhook target forbidden")

// CheckTargetIP refuses the addresses a webhook may not reach.
func CheckTargetIP(ip netip.Addr) error {
	ip = ip.Unmap()
	switch {
	case !ip.IsValid():
		return fmt.Errorf("%w: not an IP address", ErrTargetForbidden)
	case ip.IsLoopback():
		return fmt.Errorf("%w: %s is a loopback address", ErrTargetForbidden, ip)
	case ip.IsPrivate(): // 10/8, 172.16/12, 192.168/16, fc00::/7 (unique-local)
		return fmt.Errorf("%w: %s is a private address", ErrTargetForbidden, ip)
	case ip.IsLinkLocalUnicast(), ip.IsLinkLocalMulticast(), ip.IsInterfaceLocalMulticast():
		return fmt.Errorf("%w: %s is a link-local address", ErrTargetForbidden, ip)
	case ip.IsUnspecified(), ip.IsMulticast():
		return fmt.Errorf("%w: %s is not a unicast address", ErrTargetForbidden, ip)
	}
	return nil
}

// CheckTargetURL checks a webhook URL at registration: a literal address
// directly, a host name by every address it resolves to now. A name that
// does not resolve is let through: every delivery checks the address it
// dials again (TargetClient).
func CheckTargetURL(ctx context.Context, u *url.URL) error {
	host := u.Hostname()
	if ip, err := netip.ParseAddr(host); err == nil {
		return CheckTargetIP(ip)
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	addrs, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return nil
	}
	for _, a := range addrs {
		if err := CheckTargetIP(a); err != nil {
			return fmt.Errorf("%s resolves to a forbidden address: %w", host, err)
		}
	}
	return nil
}

// TargetClient is the HTTP client of webhook deliveries: it never follows
// a redirect (a 3xx is a failed delivery), uses no proxy, and, unless
// allowPrivate, refuses to connect to a forbidden address. The check runs
// on the address actually dialed, after DNS resolution, so a name that
// resolves elsewhere later (DNS rebinding) cannot reach inside.
func TargetClient(allowPrivate bool, timeout time.Duration) *http.Client {
	dialer := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	if !allowPrivate {
		dialer.Control = func(_, address string, _ syscall.RawConn) error {
			ap, err := netip.ParseAddrPort(address)
			if err != nil {
				return fmt.Errorf("%w: dialing %q: %v", ErrTargetForbidden, address, err)
			}
			return CheckTargetIP(ap.Addr())
		}
	}
	tr := &http.Transport{
		Proxy:                 nil,
		DialContext:           dialer.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          16,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: timeout,
	}
	return &http.Client{
		Transport:     tr,
		Timeout:       timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}
