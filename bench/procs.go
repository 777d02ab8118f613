package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

const (
	minioUser   = "bench"
	minioSecret = "bench-secret-key"
	adminToken  = "rlq_bench_admin_token_0123456789"
)

// proc is one server process the benchmark started.
type proc struct {
	name   string
	cmd    *exec.Cmd
	log    string
	exited chan struct{}
}

func freeAddr() string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// start runs bin with args, its output to <dir>/<name>.log, killed with
// the benchmark if it dies.
func start(dir, name string, env []string, bin string, args ...string) (*proc, error) {
	logPath := filepath.Join(dir, name+".log")
	f, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &proc{name: name, cmd: cmd, log: logPath, exited: make(chan struct{})}
	go func() { _ = cmd.Wait(); f.Close(); close(p.exited) }()
	return p, nil
}

// waitHTTP polls url until it answers want.
func (p *proc) waitHTTP(url string, want int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		select {
		case <-p.exited:
			b, _ := os.ReadFile(p.log)
			return fmt.Errorf("%s exited at start:\n%s", p.name, tail(string(b), 2000))
		default:
		}
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == want {
				return nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("%s did not answer %s with %d within %s (log: %s)", p.name, url, want, timeout, p.log)
}

func (p *proc) pid() int { return p.cmd.Process.Pid }

func (p *proc) stop() {
	if p == nil {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(15 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.exited
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

func startMinIO(dir, bin string) (*proc, string, error) {
	addr := freeAddr()
	p, err := start(dir, "minio", []string{"MINIO_ROOT_USER=" + minioUser, "MINIO_ROOT_PASSWORD=" + minioSecret,
		"MINIO_BROWSER=off", "MINIO_UPDATE=off", "CI="},
		bin, "server", "--quiet", "--address", addr, "--console-address", freeAddr(), filepath.Join(dir, "minio-data"))
	if err != nil {
		return nil, "", err
	}
	if err := p.waitHTTP("http://"+addr+"/minio/health/ready", http.StatusOK, 60*time.Second); err != nil {
		p.stop()
		return nil, "", err
	}
	return p, addr, nil
}

// startReliquary runs the real binary: `reliquary serve --storage s3`.
func startReliquary(dir, name, bin, minioAddr, bucket string, extraEnv ...string) (*proc, string, error) {
	addr := freeAddr()
	data := filepath.Join(dir, name+"-data")
	if err := os.MkdirAll(data, 0o700); err != nil {
		return nil, "", err
	}
	env := append([]string{"RELIQUARY_S3_SECRET_KEY=" + minioSecret, "RELIQUARY_ADMIN_TOKEN=" + adminToken}, extraEnv...)
	p, err := start(dir, name, env, bin, "serve", "--listen", addr, "--data-dir", data,
		"--storage", "s3", "--s3-endpoint", minioAddr, "--s3-bucket", bucket, "--s3-access-key", minioUser, "--s3-insecure")
	if err != nil {
		return nil, "", err
	}
	if err := p.waitHTTP("http://"+addr+"/readyz", http.StatusOK, 60*time.Second); err != nil {
		p.stop()
		return nil, "", err
	}
	return p, "http://" + addr, nil
}

const registryConfig = `version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  s3:
    accesskey: %s
    secretkey: %s
    region: us-east-1
    regionendpoint: http://%s
    forcepathstyle: true
    bucket: %s
    secure: false
    v4auth: true
    chunksize: %d
  redirect:
    disable: true
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: %s
`

// startRegistry runs the CNCF distribution registry with its S3 driver on
// the same MinIO, auth off, blob downloads proxied (redirect disabled).
func startRegistry(dir, bin, minioAddr, bucket string, chunk int) (*proc, string, error) {
	addr := freeAddr()
	cfg := filepath.Join(dir, "registry.yml")
	if err := os.WriteFile(cfg, fmt.Appendf(nil, registryConfig, minioUser, minioSecret, minioAddr, bucket, chunk, addr), 0o600); err != nil {
		return nil, "", err
	}
	p, err := start(dir, "registry", []string{"OTEL_TRACES_EXPORTER=none", "OTEL_METRICS_EXPORTER=none", "OTEL_LOGS_EXPORTER=none"}, bin, "serve", cfg)
	if err != nil {
		return nil, "", err
	}
	if err := p.waitHTTP("http://"+addr+"/v2/", http.StatusOK, 60*time.Second); err != nil {
		p.stop()
		return nil, "", err
	}
	return p, "http://" + addr, nil
}

// rssSampler resets a process's peak RSS (clear_refs 5) and samples VmRSS
// until stopped; peak() is the larger of the sampled peak and VmHWM.
type rssSampler struct {
	pid    int
	cancel context.CancelFunc
	done   chan int64
}

func sampleRSS(pid int) *rssSampler {
	_ = os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0)
	ctx, cancel := context.WithCancel(context.Background())
	s := &rssSampler{pid: pid, cancel: cancel, done: make(chan int64, 1)}
	go func() {
		var peak int64
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			if v, err := procStatus(pid, "VmRSS"); err == nil {
				peak = max(peak, v)
			}
			select {
			case <-ctx.Done():
				s.done <- peak
				return
			case <-t.C:
			}
		}
	}()
	return s
}

func (s *rssSampler) peak() int64 {
	s.cancel()
	p := <-s.done
	if hwm, err := procStatus(s.pid, "VmHWM"); err == nil {
		p = max(p, hwm)
	}
	return p
}

// procStatus reads one kB field of /proc/<pid>/status, in bytes.
func procStatus(pid int, field string) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), field+":"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10, err
		}
	}
	return 0, errors.New(field + " not found")
}

// cpuSeconds is a process's user+system CPU time so far.
func cpuSeconds(pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return (ut + st) / 100 // USER_HZ
}

// machineBusy is the CPU time all processes of the machine used so far.
func machineBusy() float64 {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)[1:]
	var busy float64
	for i, v := range f {
		x, _ := strconv.ParseFloat(v, 64)
		if i != 3 && i != 4 && i < 8 { // all but idle and iowait; guest time is inside user
			busy += x
		}
	}
	return busy / 100
}

// cpuMeter measures the CPU the benchmark's processes use during one
// measurement, and what the rest of the machine used meanwhile.
type cpuMeter struct {
	pids  map[string]int
	start map[string]float64
	busy  float64
}

func (b *bench) meterCPU() *cpuMeter {
	m := &cpuMeter{pids: map[string]int{"client": os.Getpid()}, start: map[string]float64{}}
	if b.minio != nil {
		m.pids["minio"] = b.minio.pid()
	}
	if b.rel != nil {
		m.pids["reliquary"] = b.rel.pid()
	}
	if b.reg != nil {
		m.pids["peer"] = b.reg.pid()
	}
	for k, pid := range m.pids {
		m.start[k] = cpuSeconds(pid)
	}
	m.busy = machineBusy()
	return m
}

// record adds, per GiB moved, the CPU seconds of each process and of the
// rest of the machine ("other") under cpu/<key>/<process>.
func (m *cpuMeter) record(b *bench, key string, bytes int64) {
	gib := float64(bytes) / (1 << 30)
	var ours float64
	for k, pid := range m.pids {
		d := cpuSeconds(pid) - m.start[k]
		ours += d
		b.add("cpu/"+key+"/"+k, d/gib)
	}
	b.add("cpu/"+key+"/other", max(0, machineBusy()-m.busy-ours)/gib)
}
