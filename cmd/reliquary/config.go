package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"reflect"
	"strings"
	"time"

	"github.com/dustin/go-humanize"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"go.yaml.in/yaml/v3"

	"github.com/reliquary/reliquary/api"
	"github.com/reliquary/reliquary/internal/app"
	"github.com/reliquary/reliquary/internal/library"
	"github.com/reliquary/reliquary/internal/oidc"
	"github.com/reliquary/reliquary/storage/s3"
)

// serveConfig is the one typed configuration of `reliquary serve`. Each
// field is a flag, a RELIQUARY_<NAME> environment variable (dashes become
// underscores) and a key of the optional --config YAML file, in that order
// of precedence.
type serveConfig struct {
	Listen          string        `yaml:"listen"`
	DataDir         string        `yaml:"data-dir"`
	Storage         string        `yaml:"storage"`
	S3Endpoint      string        `yaml:"s3-endpoint"`
	S3Bucket        string        `yaml:"s3-bucket"`
	S3Region        string        `yaml:"s3-region"`
	S3AccessKey     string        `yaml:"s3-access-key"`
	S3SecretKey     string        `yaml:"s3-secret-key"`
	S3Insecure      bool          `yaml:"s3-insecure"`
	SigningKey      string        `yaml:"signing-key"`
	RetiredKeys     []string      `yaml:"retired-keys"`
	AdminToken      string        `yaml:"admin-token"`
	AnonymousRead   bool          `yaml:"anonymous-read"`
	Downloads       string        `yaml:"downloads"`
	TLSCert         string        `yaml:"tls-cert"`
	TLSKey          string        `yaml:"tls-key"`
	ShutdownTimeout time.Duration `yaml:"shutdown-timeout"`
	LogFormat       string        `yaml:"log-format"`
	LogLevel        string        `yaml:"log-level"`
	// MaxUploadsPerToken bounds one token's concurrent uploads (429 over it).
	MaxUploadsPerToken int `yaml:"max-uploads-per-token"`
	// MemoryLimit is a soft limit for the Go heap ("" : GOMEMLIMIT or none).
	MemoryLimit string `yaml:"memory-limit"`
	// ReadHeaderTimeout is hidden: tests shorten it (slow-loris test).
	ReadHeaderTimeout time.Duration `yaml:"read-header-timeout"`
	// RetentionInterval is how often the retention policies run (0: never
	// in the background; POST /retention/run still works).
	RetentionInterval time.Duration `yaml:"retention-interval"`
	// Trusted publishing (DESIGN §11).
	OIDCIssuers         []string      `yaml:"oidc-issuer"`
	OIDCTokenTTL        time.Duration `yaml:"oidc-token-ttl"`
	OIDCAllowHTTPIssuer bool          `yaml:"oidc-allow-http-issuer"`
	// UISessionTTL is how long a web UI session lives unused.
	UISessionTTL   time.Duration `yaml:"ui-session-ttl"`
	StorageTimeout time.Duration `yaml:"storage-timeout"`
	// BodyIdleTimeout cuts off a request body that stalls this long.
	BodyIdleTimeout time.Duration `yaml:"body-idle-timeout"`
	// WebhookAllowPrivate lets webhooks reach loopback/private addresses.
	WebhookAllowPrivate bool `yaml:"webhook-allow-private"`
	// S3PublicEndpoint is the store's address in presigned URLs (redirects).
	S3PublicEndpoint string `yaml:"s3-public-endpoint"`
	// NodeID names this node in a cluster (DESIGN §9; "": generated and
	// kept in <data-dir>/node-id).
	NodeID string `yaml:"node-id"`
}

func (c *serveConfig) bindFlags(fs *pflag.FlagSet) {
	fs.StringVar(&c.Listen, "listen", "127.0.0.1:8080", "address to listen on")
	c.bindStoreFlags(fs)
	fs.StringVar(&c.SigningKey, "signing-key", "", "signing key: PEM file or KMS URI (default: generated under --data-dir)")
	fs.StringSliceVar(&c.RetiredKeys, "retired-keys", nil, "PEM public keys of rotated-out signing keys, so their signatures still verify (comma-separated files)")
	fs.StringVar(&c.AdminToken, "admin-token", "", "bootstrap admin token secret (prefer RELIQUARY_ADMIN_TOKEN); when unset and no token exists, one is generated and printed once")
	fs.BoolVar(&c.AnonymousRead, "anonymous-read", false, "allow reads (list, resolve, download) without a token")
	fs.StringVar(&c.Downloads, "downloads", api.DownloadsProxy, "downloads: proxy (stream through the service) or redirect (307 to a presigned S3 URL)")
	fs.StringVar(&c.TLSCert, "tls-cert", "", "TLS certificate file (serve HTTPS with --tls-key)")
	fs.StringVar(&c.TLSKey, "tls-key", "", "TLS private key file")
	fs.DurationVar(&c.ShutdownTimeout, "shutdown-timeout", 30*time.Second, "how long to drain requests on SIGINT/SIGTERM")
	fs.StringVar(&c.LogFormat, "log-format", "text", "log format: text or json")
	fs.StringVar(&c.LogLevel, "log-level", "info", "log level: debug, info, warn, error")
	fs.StringVar(&c.MemoryLimit, "memory-limit", "", "soft memory limit for the Go runtime, e.g. 192MiB (default: $GOMEMLIMIT, else none); keeps peak RSS near it under many concurrent uploads")
	fs.IntVar(&c.MaxUploadsPerToken, "max-uploads-per-token", api.DefaultMaxUploadsPerToken, "uploads one token may stream at once; more answer 429 TOO_MANY_UPLOADS")
	fs.DurationVar(&c.ReadHeaderTimeout, "read-header-timeout", 10*time.Second, "time a client has to send its request headers")
	_ = fs.MarkHidden("read-header-timeout")
	fs.DurationVar(&c.RetentionInterval, "retention-interval", time.Hour, "how often the products' retention policies run in the background (0: never; POST /api/v1/retention/run runs them on demand)")
	fs.StringSliceVar(&c.OIDCIssuers, "oidc-issuer", nil, "OIDC issuer whose ID tokens may be exchanged for tokens by trusted publishers (repeatable), e.g. https://token.actions.githubusercontent.com")
	fs.DurationVar(&c.OIDCTokenTTL, "oidc-token-ttl", library.DefaultOIDCTokenTTL, "lifetime of the tokens minted for OIDC ID tokens")
	fs.BoolVar(&c.OIDCAllowHTTPIssuer, "oidc-allow-http-issuer", false, "accept plain-http OIDC issuers on loopback addresses (tests with a local issuer only)")
	fs.DurationVar(&c.UISessionTTL, "ui-session-ttl", 8*time.Hour, "how long a web UI (/ui/) session lives without use")
	fs.DurationVar(&c.BodyIdleTimeout, "body-idle-timeout", api.DefaultBodyIdleTimeout, "cut off a request body that sends nothing for this long (per read, not a total deadline)")
	fs.BoolVar(&c.WebhookAllowPrivate, "webhook-allow-private", false, "let webhooks reach loopback, private, link-local and unique-local addresses (trusted networks only)")
	fs.StringVar(&c.S3PublicEndpoint, "s3-public-endpoint", "", "S3 address that downloaders reach, named in presigned URLs with --downloads redirect: host:port or https://host[:port] (default --s3-endpoint)")
	fs.StringVar(&c.NodeID, "node-id", "", "this node's name in a cluster of nodes on one bucket: 1-64 letters, digits, '.', '_' or '-' (default: a random id kept in <data-dir>/node-id)")
}

// bindStoreFlags binds the settings that locate the index and the store
// (serve, and the offline tools: fsck, index rebuild, audit verify).
func (c *serveConfig) bindStoreFlags(fs *pflag.FlagSet) {
	fs.StringVar(&c.DataDir, "data-dir", "./reliquary-data", "directory of the index, the signing key and (with --storage fs) the artifacts")
	fs.StringVar(&c.Storage, "storage", "fs", "artifact store: fs (files under --data-dir/blobs) or s3")
	fs.StringVar(&c.S3Endpoint, "s3-endpoint", "", "S3 endpoint host:port (with --storage s3)")
	fs.StringVar(&c.S3Bucket, "s3-bucket", "", "S3 bucket (created when missing)")
	fs.StringVar(&c.S3Region, "s3-region", "", "S3 region (default us-east-1)")
	fs.StringVar(&c.S3AccessKey, "s3-access-key", "", "S3 access key")
	fs.StringVar(&c.S3SecretKey, "s3-secret-key", "", "S3 secret key (prefer RELIQUARY_S3_SECRET_KEY)")
	fs.BoolVar(&c.S3Insecure, "s3-insecure", false, "talk plain HTTP to the S3 endpoint")
	fs.DurationVar(&c.StorageTimeout, "storage-timeout", s3.DefaultTimeout, "deadline of every storage call (a stream: of each step); past it the request answers 503 STORAGE_UNAVAILABLE")
}

// validateStore checks only the store settings (those of bindStoreFlags):
// the offline tools run it alone, validate runs it first.
func (c *serveConfig) validateStore() error {
	var errs []error
	if c.DataDir == "" {
		errs = append(errs, errors.New("--data-dir must not be empty"))
	}
	if c.StorageTimeout <= 0 {
		errs = append(errs, errors.New("--storage-timeout must be positive"))
	}
	switch c.Storage {
	case "fs":
	case "s3":
		if err := c.s3Config().Validate(); err != nil {
			errs = append(errs, err)
		}
	default:
		errs = append(errs, fmt.Errorf("--storage %q must be fs or s3", c.Storage))
	}
	return errors.Join(errs...)
}

// load fills every setting not given as a flag from the environment, then
// from the YAML file, then validates.
func (c *serveConfig) load(cmd *cobra.Command, configFile string) error {
	if err := c.fill(cmd, configFile); err != nil {
		return err
	}
	return c.validate()
}

// fill applies the environment and the YAML file to unset flags: a flag
// given on the command line wins, then RELIQUARY_<NAME>, then the file.
func (c *serveConfig) fill(cmd *cobra.Command, configFile string) error {
	file, inFile, err := readConfigFile(configFile)
	if err != nil {
		return err
	}
	fields := yamlFields()
	fs := cmd.Flags()
	var errs []error
	fs.VisitAll(func(f *pflag.Flag) {
		if f.Changed || f.Name == "config" || f.Name == "help" {
			return
		}
		env := "RELIQUARY_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v, ok := os.LookupEnv(env); ok {
			if err := fs.Set(f.Name, v); err != nil {
				errs = append(errs, fmt.Errorf("%s=%q: %w", env, v, err))
			}
			return
		}
		if i, ok := fields[f.Name]; ok && inFile[f.Name] {
			reflect.ValueOf(c).Elem().Field(i).Set(reflect.ValueOf(file).Field(i))
		}
	})
	return errors.Join(errs...)
}

// readConfigFile decodes the --config file strictly into the typed
// config: an unknown key or a value of the wrong type is an error naming
// it. It also returns which keys the file sets, so that only those
// override the flag defaults. A file may hold settings of `serve` that a
// command has no flag for (fsck reads the same file): they are ignored.
func readConfigFile(name string) (serveConfig, map[string]bool, error) {
	var file serveConfig
	set := map[string]bool{}
	if name == "" {
		return file, set, nil
	}
	data, err := os.ReadFile(name)
	if err != nil {
		return file, nil, fmt.Errorf("read --config: %w", err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&file); err != nil && !errors.Is(err, io.EOF) {
		return file, nil, fmt.Errorf("--config %s: %w", name, err)
	}
	var keys map[string]yaml.Node // only the names; the values were decoded above
	if err := yaml.Unmarshal(data, &keys); err != nil {
		return file, nil, fmt.Errorf("--config %s: %w", name, err)
	}
	for k := range keys {
		set[k] = true
	}
	return file, set, nil
}

// yamlFields maps each YAML key (= flag name) to its serveConfig field.
func yamlFields() map[string]int {
	t := reflect.TypeFor[serveConfig]()
	m := make(map[string]int, t.NumField())
	for i := range t.NumField() {
		if k, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ","); k != "" && k != "-" {
			m[k] = i
		}
	}
	return m
}

func (c *serveConfig) validate() error {
	var errs []error
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		errs = append(errs, fmt.Errorf("--listen %q must be host:port, e.g. 127.0.0.1:8080", c.Listen))
	}
	if err := c.validateStore(); err != nil {
		errs = append(errs, err)
	}
	if c.Downloads != api.DownloadsProxy && c.Downloads != api.DownloadsRedirect {
		errs = append(errs, fmt.Errorf("--downloads %q must be proxy or redirect", c.Downloads))
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		errs = append(errs, errors.New("--tls-cert and --tls-key go together"))
	}
	if c.AdminToken != "" && len(c.AdminToken) < library.MinAdminSecret {
		errs = append(errs, fmt.Errorf("--admin-token must be at least %d characters", library.MinAdminSecret))
	}
	if c.ShutdownTimeout <= 0 {
		errs = append(errs, errors.New("--shutdown-timeout must be positive"))
	}
	if _, err := parseBytes(c.MemoryLimit); err != nil {
		errs = append(errs, fmt.Errorf("--memory-limit: %w", err))
	}
	if c.MaxUploadsPerToken < 1 {
		errs = append(errs, fmt.Errorf("--max-uploads-per-token %d must be at least 1", c.MaxUploadsPerToken))
	}
	if c.ReadHeaderTimeout <= 0 {
		errs = append(errs, errors.New("--read-header-timeout must be positive"))
	}
	if c.RetentionInterval < 0 || (c.RetentionInterval > 0 && c.RetentionInterval < time.Minute) {
		errs = append(errs, fmt.Errorf("--retention-interval %s must be 0 (off) or at least 1m", c.RetentionInterval))
	}
	if c.UISessionTTL < time.Minute || c.UISessionTTL > 7*24*time.Hour {
		errs = append(errs, fmt.Errorf("--ui-session-ttl %s must be between 1m and 168h", c.UISessionTTL))
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.LogLevel)); err != nil {
		errs = append(errs, fmt.Errorf("--log-level %q must be debug, info, warn or error", c.LogLevel))
	}
	if c.BodyIdleTimeout <= 0 {
		errs = append(errs, errors.New("--body-idle-timeout must be positive"))
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		errs = append(errs, fmt.Errorf("--log-format %q must be text or json", c.LogFormat))
	}
	for _, is := range c.OIDCIssuers {
		if err := oidc.ValidateIssuer(is, c.OIDCAllowHTTPIssuer); err != nil {
			errs = append(errs, fmt.Errorf("--oidc-issuer: %w", err))
		}
	}
	if c.OIDCTokenTTL < time.Minute || c.OIDCTokenTTL > 24*time.Hour {
		errs = append(errs, fmt.Errorf("--oidc-token-ttl %s must be from 1m to 24h", c.OIDCTokenTTL))
	}
	if c.NodeID != "" {
		if err := app.ValidateNodeID(c.NodeID); err != nil {
			errs = append(errs, fmt.Errorf("--node-id: %w", err))
		}
	}
	return errors.Join(errs...)
}

func (c *serveConfig) s3Config() s3.Config {
	return s3.Config{Endpoint: c.S3Endpoint, Bucket: c.S3Bucket, Region: c.S3Region,
		AccessKey: c.S3AccessKey, SecretKey: c.S3SecretKey, Insecure: c.S3Insecure, Timeout: c.StorageTimeout, PublicEndpoint: c.S3PublicEndpoint}
}

// parseBytes reads a size such as 192MiB, 1GiB, 512KiB, 200MB or 1048576
// ("" is 0) with go-humanize. Sizes are whole numbers of units, as
// GOMEMLIMIT takes them: "1.5GiB" is refused, and so is 0.
func parseBytes(s string) (int64, error) {
	if s == "" {
		return 0, nil
	}
	n, err := humanize.ParseBytes(s)
	if err != nil || n == 0 || n > 1<<62 || strings.ContainsAny(s, ".,") {
		return 0, fmt.Errorf("%q is not a size like 192MiB", s)
	}
	return int64(n), nil
}
