package journal

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"
)

// VerifyReport is the result of checking a journal's hash chain.
type VerifyReport struct {
	OK       bool   `json:"ok"`
	Events   uint64 `json:"events"`
	HeadSeq  uint64 `json:"head_seq"`
	HeadHash string `json:"head_hash"`
	// BrokenSeq is the first sequence number that does not verify.
	BrokenSeq uint64 `json:"broken_seq,omitempty"`
	Reason    string `json:"reason,omitempty"`
}

// Notifier wakes everyone waiting for new events (long polls, the mirror,
// webhook workers) when a transaction with events commits.
type Notifier struct {
	mu sync.Mutex
	ch chan struct{}
}

// NewNotifier makes a notifier.
func NewNotifier() *Notifier { return &Notifier{ch: make(chan struct{})} }

// Notify wakes every current waiter.
func (n *Notifier) Notify() {
	n.mu.Lock()
	close(n.ch)
	n.ch = make(chan struct{})
	n.mu.Unlock()
}

// Wait returns a channel closed at the next Notify. Take it before checking
// for events, so none is missed in between.
func (n *Notifier) Wait() <-chan struct{} {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.ch
}

// VerifyStream checks a chain read from a sequence of events (offline, e.g.
// from the bucket mirror). next returns io.EOF after the last.
func VerifyStream(ctx context.Context, next func() (*Event, error)) (VerifyReport, error) {
	v := NewVerifier()
	var rep VerifyReport
	for {
		if err := ctx.Err(); err != nil {
			return rep, err
		}
		e, err := next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			var syn *json.SyntaxError
			if errors.As(err, &syn) {
				seq, _ := v.Head()
				rep.BrokenSeq, rep.Reason = seq+1, fmt.Sprintf("event is not valid JSON: %v", err)
				rep.Events = seq
				return rep, nil
			}
			var be *BrokenError
			if errors.As(err, &be) { // a verifying reader's finding (the signed log)
				rep.BrokenSeq, rep.Reason = be.Seq, be.Reason
				rep.Events, _ = v.Head()
				return rep, nil
			}
			return rep, err
		}
		if err := v.Add(e); err != nil {
			var be *BrokenError
			if errors.As(err, &be) {
				rep.BrokenSeq, rep.Reason = be.Seq, be.Reason
			} else {
				rep.BrokenSeq, rep.Reason = e.Seq, err.Error()
			}
			rep.Events, _ = v.Head()
			return rep, nil
		}
	}
	rep.HeadSeq, rep.HeadHash = v.Head()
	rep.Events = rep.HeadSeq
	rep.OK = true
	return rep, nil
}
