package main

import (
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"
)

// progress shows how far a transfer of several files has come: a bar on
// a terminal, one line at the end otherwise (a pipe, a log file, CI=true),
// nothing with --quiet. Each file reports its own count; the bar shows the
// sum. It is safe for concurrent use.
type progress struct {
	mu    sync.Mutex
	bar   *progressbar.ProgressBar // nil when not on a terminal
	w     io.Writer                // nil with --quiet
	desc  string
	total int64
	start time.Time
	files []*atomic.Int64
}

// interactive reports whether progress bars should be drawn on w: it is a
// terminal and CI is not set.
func interactive(w io.Writer) bool {
	if os.Getenv("CI") == "true" || os.Getenv("CI") == "1" {
		return false
	}
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// newProgress starts progress over total bytes in n files.
func (o *cliOpts) newProgress(cmd *cobra.Command, desc string, total int64, n int) *progress {
	p := &progress{desc: desc, total: total, start: time.Now()}
	for range n {
		p.files = append(p.files, new(atomic.Int64))
	}
	if o.quiet {
		return p
	}
	p.w = cmd.ErrOrStderr()
	if interactive(p.w) {
		p.bar = progressbar.NewOptions64(total,
			progressbar.OptionSetWriter(p.w),
			progressbar.OptionSetDescription(desc),
			progressbar.OptionShowBytes(true),
			progressbar.OptionShowTotalBytes(true),
			progressbar.OptionSetWidth(30),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionSetRenderBlankState(true),
			progressbar.OptionUseIECUnits(true),
			progressbar.OptionOnCompletion(func() { fmt.Fprintln(p.w) }),
		)
	}
	return p
}

// set records that file i has done bytes so far.
func (p *progress) set(i int, done int64) {
	p.files[i].Store(done)
	if p.bar == nil {
		return
	}
	var sum int64
	for _, f := range p.files {
		sum += f.Load()
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	_ = p.bar.Set64(min(sum, p.total))
}

// finish ends the bar, or prints the one plain line.
func (p *progress) finish(ok bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case p.w == nil:
	case p.bar != nil && ok:
		_ = p.bar.Finish()
	case p.bar != nil:
		_ = p.bar.Exit()
		fmt.Fprintln(p.w)
	case ok:
		d := time.Since(p.start)
		fmt.Fprintf(p.w, "%s: %s in %s (%s/s)\n", p.desc, humanBytes(p.total), d.Round(time.Millisecond),
			humanBytes(int64(float64(p.total)/max(d.Seconds(), 0.001))))
	}
}
