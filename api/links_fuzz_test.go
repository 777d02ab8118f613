package api

import (
	"encoding/base64"
	"testing"
)

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// FuzzParseTicket: any ?ticket= a client sends is refused or accepted
// without a panic, and only the server's own signature is accepted.
func FuzzParseTicket(f *testing.F) {
	s := &Server{linkSecret: []byte("0123456789abcdef0123456789abcdef")}
	good := s.signTicket(ticketClaims{Product: "hr", Version: "1.0.0", Artifact: "hr.bin", TokenID: "tok_1", Expires: 1 << 40})
	f.Add(good)
	f.Add("")
	f.Add(".")
	f.Add("eyJwIjoiaHIifQ.")
	f.Add(good[:len(good)-1])
	f.Add(good + "A")
	other := &Server{linkSecret: []byte("another secret of 32 bytes......")}
	f.Fuzz(func(t *testing.T, ticket string) {
		cl, err := s.parseTicket(ticket)
		if err != nil {
			return
		}
		// Accepted: then it must be exactly what the server would sign.
		if s.signTicket(cl) != ticket && !sameClaims(s, ticket) {
			t.Fatalf("accepted a ticket the server did not sign: %q", ticket)
		}
		if _, err := other.parseTicket(ticket); err == nil {
			t.Fatalf("a ticket verified under two secrets: %q", ticket)
		}
	})
}

// sameClaims: the MAC covers the claims part byte for byte; a ticket whose
// claims JSON differs in form from signTicket's still names what was signed.
func sameClaims(s *Server, ticket string) bool {
	for i := range len(ticket) {
		if ticket[i] == '.' {
			claims := ticket[:i]
			return ticket == claims+"."+b64(s.ticketMAC(claims))
		}
	}
	return false
}
