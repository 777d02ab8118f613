package chaos_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// selfSigned writes a certificate for 127.0.0.1 and its key under dir and
// returns their paths and a pool trusting it.
func selfSigned(t *testing.T, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "reliquary test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		IsCA:         true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

var securityHeaders = map[string]string{
	"X-Content-Type-Options":  "nosniff",
	"X-Frame-Options":         "DENY",
	"Referrer-Policy":         "no-referrer",
	"Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
}

func checkSecurityHeaders(t *testing.T, what string, h http.Header, hsts bool) {
	t.Helper()
	for k, v := range securityHeaders {
		if h.Get(k) != v {
			t.Errorf("%s: %s = %q, want %q", what, k, h.Get(k), v)
		}
	}
	if got := h.Get("Strict-Transport-Security"); (got != "") != hsts {
		t.Errorf("%s: Strict-Transport-Security = %q (want it only over TLS)", what, got)
	}
}

// TestTLS serves HTTPS with --tls-cert/--tls-key (a self-signed
// certificate made here): API calls and an upload work over TLS, answers
// carry the security headers and HSTS, TLS below 1.2 and plain HTTP are
// refused.
func TestTLS(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, pool := selfSigned(t, dir)
	srv := newServer(t, filepath.Join(dir, "data"), "--tls-cert", certFile, "--tls-key", keyFile)
	srv.scheme = "https"
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	srv.start(hc)
	if !strings.Contains(srv.log.String(), "https://"+srv.addr) {
		t.Errorf("the start log does not announce https://%s:\n%s", srv.addr, srv.log)
	}
	admin := newCaller(srv.url(), adminSecret, hc)
	admin.must(t, 201, "POST", "/products", map[string]any{"name": "app"})
	admin.must(t, 201, "POST", "/products/app/releases", map[string]any{"version": "1.0.0"})
	if s, b, err := admin.upload(t.Context(), artifactPath("app", "1.0.0", "a.bin"), 1, 3<<20); err != nil || s != 201 {
		t.Fatalf("upload over TLS: %d %s %v", s, b, err)
	}
	if s, sum, _, err := admin.download(t.Context(), artifactPath("app", "1.0.0", "a.bin")); err != nil || s != 200 || sum != digest(1, 3<<20) {
		t.Fatalf("download over TLS: %d %v", s, err)
	}
	for _, path := range []string{"/healthz", "/api/v1/products/app", "/api/v1/nowhere"} {
		req, _ := http.NewRequest("GET", srv.url()+path, nil)
		req.Header.Set("Authorization", "Bearer "+adminSecret)
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.TLS == nil || resp.TLS.Version < tls.VersionTLS12 {
			t.Errorf("GET %s: not over TLS 1.2+: %+v", path, resp.TLS)
		}
		checkSecurityHeaders(t, "GET "+path+" over TLS", resp.Header, true)
	}
	// Old TLS is refused.
	old := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MaxVersion: tls.VersionTLS11}}}
	if resp, err := old.Get(srv.url() + "/healthz"); err == nil {
		resp.Body.Close()
		t.Error("a TLS 1.1 client was served")
	}
	// Plain HTTP to the TLS port gets nothing useful.
	if resp, err := http.Get("http://" + srv.addr + "/healthz"); err == nil {
		resp.Body.Close()
		if resp.StatusCode == 200 {
			t.Error("plain HTTP was served on the TLS port")
		}
	}
	srv.stop()
}

// TestSecretsNeverLogged runs the server at debug level with JSON logs,
// exercises tokens (the bootstrap admin, created tokens, a wrong one, a
// revoked one), webhooks (their secrets) and uploads, and checks no secret
// appears anywhere in the server's output. Plain HTTP answers carry the
// security headers and no HSTS.
func TestSecretsNeverLogged(t *testing.T) {
	// Its webhook receiver is on loopback: allow private targets.
	srv := newServer(t, t.TempDir(), "--log-level", "debug", "--log-format", "json", "--webhook-allow-private")
	srv.start(nil)
	admin := newCaller(srv.url(), adminSecret, http.DefaultClient)
	admin.must(t, 201, "POST", "/products", map[string]any{"name": "app"})
	secrets := []string{adminSecret}
	ci := admin.newToken(t, "ci", "publisher")
	rm := admin.newToken(t, "rm", "release-manager")
	secrets = append(secrets, ci, rm)
	var hook struct{ ID, Secret string }
	hookSecret := "whsec-chaos-0123456789abcdef0123456789"
	body := admin.must(t, 201, "POST", "/webhooks", map[string]any{"url": "http://127.0.0.1:1/hook", "secret": hookSecret})
	_ = json.Unmarshal(body, &hook)
	secrets = append(secrets, hookSecret)
	if hook.Secret != "" {
		secrets = append(secrets, hook.Secret)
	}

	pub := newCaller(srv.url(), ci, http.DefaultClient)
	pub.must(t, 201, "POST", "/products/app/releases", map[string]any{"version": "1.0.0", "change_id": "CHG-1"})
	if s, b, err := pub.upload(t.Context(), artifactPath("app", "1.0.0", "a.bin"), 2, 1000); err != nil || s != 201 {
		t.Fatalf("upload: %d %s %v", s, b, err)
	}
	wrong := "rlq_this-is-a-wrong-secret-0123456789"
	secrets = append(secrets, wrong)
	for _, tok := range []string{wrong, "Basic " + wrong} {
		req, _ := http.NewRequest("GET", srv.url()+"/api/v1/products", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 401 {
			t.Errorf("wrong token: %d", resp.StatusCode)
		}
		checkSecurityHeaders(t, "401", resp.Header, false)
	}
	// A revoked token, then used.
	var list struct{ Tokens []struct{ ID, Name string } }
	_ = json.Unmarshal(admin.must(t, 200, "GET", "/tokens", nil), &list)
	for _, tk := range list.Tokens {
		if tk.Name == "rm" {
			admin.must(t, 204, "DELETE", "/tokens/"+tk.ID, nil)
		}
	}
	if s, _, _ := newCaller(srv.url(), rm, http.DefaultClient).call(t.Context(), "GET", "/products", nil); s != 401 {
		t.Errorf("revoked token: %d", s)
	}
	// A failed request at debug level.
	_, _, _ = pub.call(t.Context(), "POST", "/products/app/releases/1.0.0/seal?token="+ci, nil)
	resp, err := http.Get(srv.url() + "/api/v1/signing/key")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	checkSecurityHeaders(t, "GET /api/v1/signing/key", resp.Header, false)
	srv.stop()

	out := srv.log.String()
	if !strings.Contains(out, `"msg":"http request"`) {
		t.Fatalf("no access log captured:\n%s", out)
	}
	for _, s := range secrets {
		for _, form := range []string{s, s[len(s)/2:]} {
			if strings.Contains(out, form) {
				t.Errorf("the server log contains a secret (%.8s…)", s)
			}
		}
	}
	if strings.Contains(out, "Bearer ") {
		t.Error("the server log contains an Authorization header")
	}
	t.Logf("%d log lines at debug level, none with any of %d secrets", strings.Count(out, "\n"), len(secrets))

	// Token secrets are stored hashed: the index file never holds one.
	// (Webhook secrets must be kept to sign deliveries; they are not checked.)
	db, err := os.ReadFile(filepath.Join(srv.dataDir, "index.db"))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{adminSecret, ci, rm, wrong} {
		if bytes.Contains(db, []byte(s)) {
			t.Errorf("the index file holds a token secret in clear (%.8s…)", s)
		}
	}
}
