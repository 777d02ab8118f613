package testenv

import (
	"bytes"
	"os"
	"strconv"
	"sync"
)

// SyncBuffer is a bytes.Buffer that a process (or several goroutines)
// writes while a test reads it: a log sink.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// EnvInt is the positive integer set by name in the environment (a test's
// knob such as RELIQUARY_CHAOS_KILLS), or def.
func EnvInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}
