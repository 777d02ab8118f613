package api

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"

	"github.com/gin-gonic/gin"

	"github.com/reliquary/reliquary/api/wire"
	"github.com/reliquary/reliquary/internal/library"
)

// AttestationList is the answer of GET .../attestations.
type AttestationList = wire.AttestationList

// attestationSlots bounds the attestation files held in memory at once
// (each up to library.MaxAttestationBytes, parsed in place), process-wide.
var attestationSlots = make(chan struct{}, 2)

// addAttestation takes an attestation file (a DSSE envelope or a Sigstore
// bundle v0.3, as cosign attest-blob writes them) as the raw body. A body
// over library.MaxAttestationBytes is refused before it is read.
func (s *Server) addAttestation(c *gin.Context) {
	const limit = library.MaxAttestationBytes
	tooBig := func() {
		c.Header("Connection", "close") // the refused body is not read
		writeError(c, http.StatusRequestEntityTooLarge, CodeBodyTooLarge,
			fmt.Sprintf("attestation larger than %d bytes", limit), map[string]any{"limit": limit})
	}
	if c.Request.ContentLength > limit {
		tooBig()
		return
	}
	// Parsing holds a few copies of the file in memory: at most
	// cap(attestationSlots) files are read and verified at once.
	select {
	case attestationSlots <- struct{}{}:
		defer func() { <-attestationSlots }()
	case <-c.Request.Context().Done():
		c.Abort()
		return
	}
	raw, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, limit))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			tooBig()
			return
		}
		fail(c, fmt.Errorf("%w: %w", library.ErrIncompleteBody, err))
		return
	}
	a, created, err := s.lib.AddAttestation(c, principal(c), c.Param("product"), c.Param("version"), raw)
	if err != nil {
		fail(c, err)
		return
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	c.Header("Location", c.Request.URL.Path+"/"+a.Digest)
	c.JSON(status, wireAttestation(a))
}

func (s *Server) listAttestations(c *gin.Context) {
	list, err := s.lib.Attestations(c, c.Param("product"), c.Param("version"))
	if err != nil {
		fail(c, err)
		return
	}
	if t := c.Query("predicate_type"); t != "" {
		list = slices.DeleteFunc(list, func(a library.Attestation) bool { return a.PredicateType != t })
	}
	out := AttestationList{Attestations: make([]wire.Attestation, 0, len(list))}
	for i := range list {
		out.Attestations = append(out.Attestations, wireAttestation(&list[i]))
	}
	c.JSON(http.StatusOK, out)
}

// attestationFile serves the stored file byte for byte:
// cosign verify-blob-attestation accepts it as it was uploaded.
func (s *Server) attestationFile(c *gin.Context) {
	a, body, err := s.lib.AttestationFile(c, c.Param("product"), c.Param("version"), c.Param("digest"))
	if err != nil {
		fail(c, err)
		return
	}
	ct := "application/json"
	if !bytes.HasPrefix(bytes.TrimSpace(body), []byte("{")) {
		ct = "application/octet-stream" // a base64-printed envelope
	}
	c.Header("ETag", `"`+a.Hex()+`"`)
	c.Header("X-Predicate-Type", a.PredicateType)
	c.Data(http.StatusOK, ct, body)
}
