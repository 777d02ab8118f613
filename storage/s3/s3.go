// Package s3 is the BlobStore on S3-compatible object storage (MinIO, AWS S3,
// …) through minio-go v7.
//
// Create-only writes: every Put carries If-None-Match: * so the server
// refuses to replace an existing key (412, mapped to storage.ErrExists).
// minio-go drops that header from the CompleteMultipartUpload request of a
// multipart upload, which would let a large upload silently replace a key
// created while it ran; createOnlyTransport puts it back on that request.
// Objects are never committed by CopyObject, which S3 servers do not make
// conditional.
package s3

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/minio/minio-go/v7/pkg/s3utils"

	"github.com/reliquary/reliquary/storage"
)

// DefaultPartSize is the multipart part size, the S3 minimum. A multipart
// upload holds two parts in memory (one is read from the source while the
// other is sent), so twice the part size bounds the memory an upload costs
// (8 concurrent uploads: peak RSS 280 MiB with 8 MiB parts, 208–258 MiB
// with 5 MiB; BENCHMARKS.md).
const DefaultPartSize = 5 << 20

// Config is what the store needs to reach its bucket.
type Config struct {
	Endpoint  string // host:port, no scheme
	Bucket    string
	Region    string // "" means us-east-1
	AccessKey string
	SecretKey string
	Insecure  bool   // plain HTTP
	PartSize  uint64 // 0 means DefaultPartSize
	// Timeout bounds every call's wait for the store (0: DefaultTimeout):
	// a request/response call as a whole, a stream each step of the
	// store's. Past it the call fails with storage.ErrUnavailable.
	Timeout time.Duration
	// PublicEndpoint is the host presigned URLs name, for clients that reach
	// the store by another address than the service does: host:port (the
	// scheme of Insecure) or http(s)://host[:port]. "" means Endpoint.
	PublicEndpoint string
}

// Validate reports the first missing or malformed setting in words a person
// can act on.
func (c Config) Validate() error {
	switch {
	case c.Endpoint == "":
		return errors.New("s3 endpoint is required (--s3-endpoint host:port)")
	case strings.Contains(c.Endpoint, "://"):
		return fmt.Errorf("s3 endpoint %q must be host:port without a scheme (use --s3-insecure for plain HTTP)", c.Endpoint)
	case c.Bucket == "":
		return errors.New("s3 bucket is required (--s3-bucket)")
	case s3utils.CheckValidBucketName(c.Bucket) != nil:
		return fmt.Errorf("s3 bucket %q is not a valid bucket name: %v", c.Bucket, s3utils.CheckValidBucketName(c.Bucket))
	case c.AccessKey == "" || c.SecretKey == "":
		return errors.New("s3 credentials are required (--s3-access-key and --s3-secret-key, or RELIQUARY_S3_ACCESS_KEY and RELIQUARY_S3_SECRET_KEY)")
	case c.PartSize != 0 && c.PartSize < 5<<20:
		return fmt.Errorf("s3 part size %d is below the S3 minimum of 5 MiB", c.PartSize)
	}
	if _, _, err := c.publicEndpoint(); err != nil {
		return err
	}
	return nil
}

// Store is a BlobStore on one S3 bucket.
type Store struct {
	client   *minio.Client
	presign  *minio.Client // the client of PublicEndpoint, or client
	bucket   string
	endpoint string
	partSize uint64
	timeout  time.Duration
}

var _ storage.BlobStore = (*Store)(nil)

// New builds the client. It does not contact the server: a store whose
// endpoint is down still starts, and Ping says why it is not ready.
func New(cfg Config) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	base, err := minio.DefaultTransport(!cfg.Insecure)
	if err != nil {
		return nil, fmt.Errorf("s3 transport: %w", err)
	}
	timeout := cfg.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	// minio-go's retries and the header wait stay inside the per-call
	// deadline (deadline.go): neither may stretch a hung call past it.
	base.ResponseHeaderTimeout = timeout
	region := cfg.Region
	if region == "" {
		region = "us-east-1"
	}
	client, err := minio.New(cfg.Endpoint, &minio.Options{
		Creds:        credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, ""),
		Secure:       !cfg.Insecure,
		Region:       region,
		Transport:    createOnlyTransport{base},
		BucketLookup: minio.BucketLookupAuto,
		MaxRetries:   3,
	})
	if err != nil {
		return nil, fmt.Errorf("s3 client for %s: %w", cfg.Endpoint, err)
	}
	part := cfg.PartSize
	if part == 0 {
		part = DefaultPartSize
	}
	presign := client
	if host, secure, _ := cfg.publicEndpoint(); host != "" {
		// Presigning is local (the region is known): this client never
		// connects; it only names the public host in the signature.
		presign, err = minio.New(host, &minio.Options{
			Creds:        credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, ""),
			Secure:       secure,
			Region:       region,
			BucketLookup: minio.BucketLookupPath,
		})
		if err != nil {
			return nil, fmt.Errorf("s3 public endpoint %s: %w", cfg.PublicEndpoint, err)
		}
	}
	return &Store{client: client, presign: presign, bucket: cfg.Bucket, endpoint: cfg.Endpoint, partSize: part, timeout: timeout}, nil
}

// Client exposes the minio-go client (benchmarks compare against it).
func (s *Store) Client() *minio.Client { return s.client }

// Bucket is the bucket name.
func (s *Store) Bucket() string { return s.bucket }

// createOnlyTransport adds If-None-Match: * to CompleteMultipartUpload
// (POST ?uploadId=…), the one request of a create-only upload that minio-go
// sends without it. Every write this store makes is create-only.
type createOnlyTransport struct{ base http.RoundTripper }

func (t createOnlyTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method == http.MethodPost && req.URL.Query().Has("uploadId") && req.Header.Get("If-None-Match") == "" {
		req = req.Clone(req.Context())
		req.Header.Set("If-None-Match", "*")
	}
	return t.base.RoundTrip(req)
}

// Put implements storage.BlobStore.
func (s *Store) Put(ctx context.Context, key string, r io.Reader, size int64, opts storage.PutOptions) (storage.Info, error) {
	if err := storage.ValidateKey(key); err != nil {
		return storage.Info{}, err
	}
	po := s.PutObjectOptions(size, opts.ContentType)
	po.UserMetadata = opts.Metadata
	cr := &countingReader{r: r}
	wd := s.newWatchdog(ctx)
	defer wd.done()
	var src io.Reader = pacedReader{cr, wd}
	if size >= 0 {
		// minio-go reads exactly size bytes; a longer body must not be
		// silently cut, so the extra byte is looked for afterwards.
		src = io.LimitReader(src, size)
	}
	up, err := s.client.PutObject(wd.ctx, s.bucket, key, src, size, po)
	if err != nil {
		switch {
		case wd.fired():
			return storage.Info{}, s.timeoutErr("put " + key)
		case cr.err != nil && !errors.Is(cr.err, io.EOF):
			// The source failed (a client that went away): say so, not
			// what minio-go made of it.
			return storage.Info{}, fmt.Errorf("put %s: read source: %w", key, cr.err)
		case size >= 0 && cr.n < size && errors.Is(cr.err, io.EOF) && ctx.Err() == nil:
			// The source ended early. (A short count alone proves
			// nothing: minio-go stops reading when the server goes away.)
			return storage.Info{}, fmt.Errorf("put %s: read %d bytes, expected %d: %w", key, cr.n, size, storage.ErrSizeMismatch)
		}
		return storage.Info{}, s.mapErr("put "+key, err)
	}
	if cr.err != nil && !errors.Is(cr.err, io.EOF) || size >= 0 && up.Size != size {
		// minio-go's two-buffer path takes a short read for the last part
		// and completes the upload: a source that failed or ended early
		// must not leave an object behind.
		_ = s.Delete(context.WithoutCancel(ctx), key)
		if cr.err != nil && !errors.Is(cr.err, io.EOF) {
			return storage.Info{}, fmt.Errorf("put %s: read source: %w", key, cr.err)
		}
		return storage.Info{}, fmt.Errorf("put %s: read %d bytes, expected %d: %w", key, cr.n, size, storage.ErrSizeMismatch)
	}
	if size >= 0 {
		var one [1]byte
		n, err := io.ReadFull(r, one[:])
		if n > 0 || err != nil && !errors.Is(err, io.EOF) {
			_ = s.Delete(context.WithoutCancel(ctx), key)
			if n == 0 {
				return storage.Info{}, fmt.Errorf("put %s: read source: %w", key, err)
			}
			return storage.Info{}, fmt.Errorf("put %s: more than the %d bytes expected: %w", key, size, storage.ErrSizeMismatch)
		}
	}
	return storage.Info{Key: key, Size: up.Size, ModTime: up.LastModified}, nil
}

// PutObjectOptions are the minio-go options Put uses for an object of size
// bytes (-1: unknown); `make bench` makes the same call directly as its
// baseline.
func (s *Store) PutObjectOptions(size int64, contentType string) minio.PutObjectOptions {
	po := minio.PutObjectOptions{
		ContentType:          contentType,
		PartSize:             s.partSize,
		DisableContentSha256: true,
	}
	po.SetMatchETagExcept("*")
	if size < 0 || size > int64(s.partSize) {
		// Multipart with two part buffers, so the next part is read from
		// the source (the client's request body) while the last one is
		// sent. With minio-go's single buffer the client waits out every
		// part's round trip to the store (BENCHMARKS.md).
		po.ConcurrentStreamParts, po.NumThreads = true, 2
		if size > 10_000*int64(po.PartSize) {
			// S3 allows 10,000 parts: larger objects need larger parts.
			po.PartSize = (uint64(size)/10_000 + 1<<20) &^ (1<<20 - 1)
		}
	}
	return po
}

// countingReader remembers how much its source gave and how it ended.
type countingReader struct {
	r   io.Reader
	n   int64
	err error
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	if err == io.ErrUnexpectedEOF {
		// A request body cut short: wrapped, so minio-go aborts the
		// upload instead of completing it with a short last part.
		err = fmt.Errorf("source cut short: %w", err)
	}
	if err != nil {
		c.err = err
	}
	return n, err
}

// Get implements storage.BlobStore.
func (s *Store) Get(ctx context.Context, key string, offset, length int64) (io.ReadCloser, storage.Info, error) {
	if err := storage.ValidateKey(key); err != nil {
		return nil, storage.Info{}, err
	}
	if offset < 0 {
		return nil, storage.Info{}, fmt.Errorf("get %s at %d: %w", key, offset, storage.ErrInvalidRange)
	}
	var opts minio.GetObjectOptions
	switch {
	case length == 0:
		// An empty read still checks the object exists and the offset.
		st, err := s.Stat(ctx, key)
		if err != nil {
			return nil, st, err
		}
		if offset > st.Size || (offset == st.Size && offset > 0) {
			return nil, st, fmt.Errorf("get %s at %d of %d: %w", key, offset, st.Size, storage.ErrInvalidRange)
		}
		return io.NopCloser(strings.NewReader("")), st, nil
	case length > 0:
		if err := opts.SetRange(offset, offset+length-1); err != nil {
			return nil, storage.Info{}, fmt.Errorf("get %s: %w", key, storage.ErrInvalidRange)
		}
	case offset > 0:
		if err := opts.SetRange(offset, 0); err != nil {
			return nil, storage.Info{}, fmt.Errorf("get %s: %w", key, storage.ErrInvalidRange)
		}
	}
	// minio-go's Core.GetObject hands over the HTTP response body itself:
	// one request, and the caller's reads go straight to the connection.
	// (*Client).GetObject's *Object puts a goroutine and two channel hops
	// behind every Read — the CPU profile of a proxied download showed
	// the scheduler and futex work of that hand-off (BENCHMARKS.md). The
	// watchdog bounds the wait for the answer, then every read.
	wd := s.newWatchdog(ctx)
	body, st, hdr, err := minio.Core{Client: s.client}.GetObject(wd.ctx, s.bucket, key, opts)
	if err != nil {
		fired := wd.fired()
		wd.done()
		if fired {
			return nil, storage.Info{}, s.timeoutErr("get " + key)
		}
		return nil, storage.Info{}, s.mapErr("get "+key, err)
	}
	wd.disarm()
	size := st.Size
	if total, ok := rangeTotal(hdr.Get("Content-Range")); ok {
		size = total // with a range, Content-Length is the range's
	}
	return &watchedBody{rc: body, w: wd, s: s, op: "get " + key}, storage.Info{Key: key, Size: size, ModTime: st.LastModified}, nil
}

// rangeTotal reads the complete length of a Content-Range "bytes a-b/total".
func rangeTotal(cr string) (int64, bool) {
	i := strings.LastIndexByte(cr, '/')
	if i < 0 || !strings.HasPrefix(cr, "bytes ") {
		return 0, false
	}
	n, err := strconv.ParseInt(cr[i+1:], 10, 64)
	return n, err == nil && n >= 0
}

// Stat implements storage.BlobStore.
func (s *Store) Stat(ctx context.Context, key string) (storage.Info, error) {
	if err := storage.ValidateKey(key); err != nil {
		return storage.Info{}, err
	}
	var st minio.ObjectInfo
	err := s.call(ctx, "stat "+key, func(ctx context.Context) (err error) {
		if st, err = s.client.StatObject(ctx, s.bucket, key, minio.StatObjectOptions{}); err != nil {
			return s.mapErr("stat "+key, err)
		}
		return nil
	})
	if err != nil {
		return storage.Info{}, err
	}
	return storage.Info{Key: key, Size: st.Size, ModTime: st.LastModified}, nil
}

// Delete implements storage.BlobStore.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := storage.ValidateKey(key); err != nil {
		return err
	}
	return s.call(ctx, "delete "+key, func(ctx context.Context) error {
		err := s.client.RemoveObject(ctx, s.bucket, key, minio.RemoveObjectOptions{})
		if err != nil && !errors.Is(s.mapErr("", err), storage.ErrNotFound) {
			return s.mapErr("delete "+key, err)
		}
		return nil
	})
}

// List implements storage.BlobStore (S3 lists in UTF-8 binary key order).
func (s *Store) List(ctx context.Context, prefix string, fn func(storage.Info) error) error {
	if err := storage.ValidatePrefix(prefix); err != nil {
		return err
	}
	// Each page of the listing must come within the timeout; the
	// caller's work on an entry does not count.
	wd := s.newWatchdog(ctx)
	defer wd.done()
	for obj := range s.client.ListObjects(wd.ctx, s.bucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: true}) {
		if obj.Err != nil {
			if wd.fired() {
				return s.timeoutErr("list " + prefix)
			}
			return s.mapErr("list "+prefix, obj.Err)
		}
		wd.disarm()
		if err := fn(storage.Info{Key: obj.Key, Size: obj.Size, ModTime: obj.LastModified}); err != nil {
			return err
		}
		wd.arm()
	}
	if wd.fired() {
		return s.timeoutErr("list " + prefix)
	}
	return ctx.Err()
}

// IncompleteUploads lists the keys of multipart uploads begun and neither
// completed nor aborted under prefix (a store at rest has none).
func (s *Store) IncompleteUploads(ctx context.Context, prefix string) ([]string, error) {
	var keys []string
	err := s.call(ctx, "list incomplete uploads", func(ctx context.Context) error {
		for u := range s.client.ListIncompleteUploads(ctx, s.bucket, prefix, true) {
			if u.Err != nil {
				return s.mapErr("list incomplete uploads", u.Err)
			}
			keys = append(keys, u.Key)
		}
		return nil
	})
	return keys, err
}

// Leftovers lists incomplete multipart uploads; a store at rest has none.
func (s *Store) Leftovers(ctx context.Context) ([]string, error) {
	return s.IncompleteUploads(ctx, "")
}

// RemoveLeftovers aborts every incomplete multipart upload. Only for a
// bucket no server is writing to (fsck --repair).
func (s *Store) RemoveLeftovers(ctx context.Context) error {
	keys, err := s.IncompleteUploads(ctx, "")
	if err != nil {
		return err
	}
	for _, k := range keys {
		if err := s.call(ctx, "abort upload of "+k, func(ctx context.Context) error {
			if err := s.client.RemoveIncompleteUpload(ctx, s.bucket, k); err != nil {
				return s.mapErr("abort upload of "+k, err)
			}
			return nil
		}); err != nil {
			return err
		}
	}
	return nil
}

// PresignGet implements storage.BlobStore.
func (s *Store) PresignGet(ctx context.Context, key string, expiry time.Duration, filename string) (*url.URL, error) {
	if err := storage.ValidateKey(key); err != nil {
		return nil, err
	}
	params := url.Values{}
	if filename != "" {
		params.Set("response-content-disposition", mime.FormatMediaType("attachment", map[string]string{"filename": filename}))
	}
	u, err := s.presign.PresignedGetObject(ctx, s.bucket, key, expiry, params)
	if err != nil {
		return nil, s.mapErr("presign "+key, err)
	}
	return u, nil
}

// Ping implements storage.BlobStore: the bucket must exist and answer.
func (s *Store) Ping(ctx context.Context) error {
	var ok bool
	err := s.call(ctx, "reach bucket "+s.bucket, func(ctx context.Context) (err error) {
		if ok, err = s.client.BucketExists(ctx, s.bucket); err != nil {
			return s.mapErr("reach bucket "+s.bucket, err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("bucket %q does not exist at %s: %w", s.bucket, s.endpoint, storage.ErrUnavailable)
	}
	return nil
}

// CreateBucket makes the bucket when it is missing (used by tests and the
// first start against an empty MinIO).
func (s *Store) CreateBucket(ctx context.Context) error {
	return s.call(ctx, "create bucket "+s.bucket, func(ctx context.Context) error {
		ok, err := s.client.BucketExists(ctx, s.bucket)
		if err != nil {
			return s.mapErr("check bucket "+s.bucket, err)
		}
		if ok {
			return nil
		}
		if err := s.client.MakeBucket(ctx, s.bucket, minio.MakeBucketOptions{}); err != nil {
			return s.mapErr("create bucket "+s.bucket, err)
		}
		return nil
	})
}

// mapErr turns minio-go and network errors into the storage sentinels.
func (s *Store) mapErr(op string, err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%s: %w", op, err)
	}
	resp := minio.ToErrorResponse(err)
	switch resp.Code {
	case "NoSuchKey", "NotFound":
		return fmt.Errorf("%s: %w", op, storage.ErrNotFound)
	case "PreconditionFailed":
		return fmt.Errorf("%s: %w", op, storage.ErrExists)
	case "InvalidRange":
		return fmt.Errorf("%s: %w", op, storage.ErrInvalidRange)
	case "XMinioStorageFull", "StorageFull", "EntityTooLarge":
		return fmt.Errorf("%s: %w: %s", op, storage.ErrNoSpace, resp.Message)
	case "NoSuchBucket":
		return fmt.Errorf("%s: bucket %q at %s does not exist: %w", op, s.bucket, s.endpoint, storage.ErrUnavailable)
	case "SlowDown", "ServiceUnavailable", "XMinioServerNotInitialized", "InternalError", "RequestTimeout":
		return fmt.Errorf("%s at %s: %w: %s", op, s.endpoint, storage.ErrUnavailable, resp.Message)
	}
	switch {
	case resp.StatusCode == http.StatusNotFound:
		return fmt.Errorf("%s: %w", op, storage.ErrNotFound)
	case resp.StatusCode == http.StatusPreconditionFailed:
		return fmt.Errorf("%s: %w", op, storage.ErrExists)
	case resp.StatusCode >= 500:
		return fmt.Errorf("%s at %s: %w: %v", op, s.endpoint, storage.ErrUnavailable, err)
	}
	var netErr net.Error
	var urlErr *url.Error
	if errors.As(err, &netErr) || errors.As(err, &urlErr) || errors.Is(err, io.ErrUnexpectedEOF) && resp.StatusCode == 0 {
		return fmt.Errorf("%s at %s: %w: %v", op, s.endpoint, storage.ErrUnavailable, err)
	}
	return fmt.Errorf("%s at %s: %w", op, s.endpoint, err)
}

// publicEndpoint parses PublicEndpoint into a host[:port] and whether it
// speaks HTTPS ("" when unset).
func (c Config) publicEndpoint() (host string, secure bool, err error) {
	if c.PublicEndpoint == "" {
		return "", false, nil
	}
	raw, secure := c.PublicEndpoint, !c.Insecure
	if strings.Contains(raw, "://") {
		u, perr := url.Parse(raw)
		if perr != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
			(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil {
			return "", false, fmt.Errorf("s3 public endpoint %q must be host:port or http(s)://host[:port] with no path", raw)
		}
		return u.Host, u.Scheme == "https", nil
	}
	if strings.ContainsAny(raw, "/?#@ ") {
		return "", false, fmt.Errorf("s3 public endpoint %q must be host:port or http(s)://host[:port] with no path", raw)
	}
	return raw, secure, nil
}
