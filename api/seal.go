package api

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/reliquary/reliquary/api/wire"
	"github.com/reliquary/reliquary/internal/library"
)

// CommentInput is the optional body of a transition.
type CommentInput = wire.CommentInput

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
	c.JSON(http.StatusOK, wireRelease(r))
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

// SigningKeys is the answer of GET /signing/keys.
type SigningKeys = wire.SigningKeys

// SigningKey is one verification key.
type SigningKey = wire.SigningKey

func (s *Server) signingKeys(c *gin.Context) {
	out := SigningKeys{Keys: []SigningKey{}}
	for _, k := range s.lib.VerificationKeys() {
		out.Keys = append(out.Keys, SigningKey{KeyID: k.KeyID, PublicKey: string(k.PEM), Current: k.Current})
	}
	c.JSON(http.StatusOK, out)
}

// artifactBundle serves the artifact's Sigstore bundle (v0.3 JSON, a
// message signature with a public-key hint): cosign verify-blob --key
// --bundle --new-bundle-format --insecure-ignore-tlog accepts it.
func (s *Server) artifactBundle(c *gin.Context) {
	b, err := s.lib.ArtifactBundle(c, c.Param("product"), c.Param("version"), c.Param("name"))
	if err != nil {
		fail(c, err)
		return
	}
	c.Data(http.StatusOK, library.BundleMediaType, b)
}
