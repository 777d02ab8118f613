package library

import "context"

// ReadyCheck is one dependency's readiness: nil Err is ready.
type ReadyCheck struct {
	Name string
	Err  error
}

// Readiness checks the index, the blob store and, when wired, the journal
// (a foreign journal in the bucket, a failing mirror).
func (s *Service) Readiness(ctx context.Context) []ReadyCheck {
	var checks []ReadyCheck
	var indexErr error
	if s.indexPing != nil {
		indexErr = s.indexPing()
	}
	checks = append(checks, ReadyCheck{Name: "index", Err: indexErr})
	checks = append(checks, ReadyCheck{Name: "storage", Err: s.store.Ping(ctx)})
	if s.journalReady != nil {
		checks = append(checks, ReadyCheck{Name: "journal", Err: s.journalReady()})
	}
	return checks
}
