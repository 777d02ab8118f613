package api

import (
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/reliquary/reliquary/internal/library"
	"github.com/reliquary/reliquary/internal/signing"
)

// CommentInput is the optional body of a transition.
type CommentInput struct {
	Comment string `json:"comment"`
}

func (s *Server) seal(c *gin.Context) {
	var in CommentInput
	if !emptyBody(c) && !decodeJSON(c, &in) {
		return
	}
	r, err := s.lib.Seal(c, principal(c), c.Param("product"), c.Param("version"), in.Comment)
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, r)
}

func (s *Server) manifest(c *gin.Context) {
	body, _, err := s.lib.Manifest(c, c.Param("product"), c.Param("version"))
	if err != nil {
		fail(c, err)
		return
	}
	serveBytesWithETag(c, "application/json", body)
}

func (s *Server) manifestSignature(c *gin.Context) {
	_, sig, err := s.lib.Manifest(c, c.Param("product"), c.Param("version"))
	if err != nil {
		fail(c, err)
		return
	}
	c.Data(http.StatusOK, "text/plain; charset=utf-8", sig)
}

// SigningKeys is the answer of GET /signing/keys: every key whose
// signatures verify, the current one marked.
type SigningKeys struct {
	Keys []SigningKey `json:"keys"`
}

// SigningKey is one verification key.
type SigningKey struct {
	KeyID     string `json:"key_id"`
	PublicKey string `json:"public_key"`
	Current   bool   `json:"current"`
}

func (s *Server) signingKeys(c *gin.Context) {
	out := SigningKeys{Keys: []SigningKey{}}
	if s.keyring != nil {
		for _, k := range s.keyring.Keys() {
			out.Keys = append(out.Keys, SigningKey{KeyID: k.KeyID, PublicKey: string(k.PEM), Current: k.Current})
		}
	}
	c.JSON(http.StatusOK, out)
}

// Bundler wraps an artifact signature in a Sigstore bundle.
type Bundler interface {
	Bundle(digest, sig []byte) ([]byte, error)
}

// artifactBundle serves the artifact's Sigstore bundle (v0.3 JSON, a
// message signature with a public-key hint): cosign verify-blob --key
// --bundle --new-bundle-format --insecure-ignore-tlog accepts it.
func (s *Server) artifactBundle(c *gin.Context) {
	ref, err := s.lib.Artifact(c, c.Param("product"), c.Param("version"), c.Param("name"))
	if err != nil {
		fail(c, err)
		return
	}
	if s.bundler == nil {
		fail(c, library.ErrNotImplemented)
		return
	}
	digest, err1 := hex.DecodeString(ref.Artifact.SHA256)
	sig, err2 := base64.StdEncoding.DecodeString(ref.Artifact.Signature)
	if err := errors.Join(err1, err2); err != nil {
		fail(c, fmt.Errorf("artifact %s: stored digest or signature unreadable: %w", ref.Artifact.Name, err))
		return
	}
	b, err := s.bundler.Bundle(digest, sig)
	if err != nil {
		fail(c, err)
		return
	}
	c.Data(http.StatusOK, signing.BundleMediaType, b)
}
