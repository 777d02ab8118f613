package api

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/reliquary/reliquary/api/wire"
	"github.com/reliquary/reliquary/internal/library"
)

// MaxOIDCBody bounds the body of POST /auth/oidc: an ID token and its
// JSON envelope.
const MaxOIDCBody = library.MaxOIDCTokenBytes + 1024

// OIDCExchangeRequest is the body of POST /auth/oidc.
type OIDCExchangeRequest = wire.OIDCExchangeRequest

// OIDCExchangeResponse is the answer of POST /auth/oidc: a token scoped
// to one product, shown once.
type OIDCExchangeResponse = wire.OIDCExchange

// exchangeOIDC trades a CI job's OIDC ID token for a short-lived token on
// the product whose trusted publisher accepts it (DESIGN §11). No bearer:
// the ID token is the credential.
func (s *Server) exchangeOIDC(c *gin.Context) {
	if c.Request.ContentLength > MaxOIDCBody {
		c.Header("Connection", "close") // the refused body is not read
		writeError(c, http.StatusRequestEntityTooLarge, CodeBodyTooLarge,
			fmt.Sprintf("body larger than %d bytes: an ID token is at most %d", MaxOIDCBody, library.MaxOIDCTokenBytes), map[string]any{"limit": MaxOIDCBody})
		return
	}
	var in OIDCExchangeRequest
	if err := DecodeStrict(http.MaxBytesReader(c.Writer, c.Request.Body, MaxOIDCBody), &in); err != nil {
		if isTooBig(err) {
			writeError(c, http.StatusRequestEntityTooLarge, CodeBodyTooLarge,
				fmt.Sprintf("body larger than %d bytes: an ID token is at most %d", MaxOIDCBody, library.MaxOIDCTokenBytes), map[string]any{"limit": MaxOIDCBody})
			return
		}
		writeError(c, http.StatusBadRequest, CodeInvalidJSON, err.Error(), nil)
		return
	}
	if in.Token == "" {
		writeError(c, http.StatusBadRequest, CodeInvalidInput, "token is required: the CI job's OIDC ID token", map[string]any{"field": "token"})
		return
	}
	ex, err := s.lib.VerifyOIDC(c.Request.Context(), in.Token, in.Product)
	if errors.Is(err, library.ErrOIDCIssuerUnavailable) {
		// The cause (an address, a network error) is for the log, not for
		// an anonymous caller.
		s.log.Warn("oidc issuer unavailable", "request_id", requestID(c), "err", err)
		writeError(c, http.StatusServiceUnavailable, CodeOIDCIssuerUnavailable, "the ID token's issuer could not be reached; retry later", nil)
		return
	}
	if err != nil {
		fail(c, err)
		return
	}
	t := ex.Token
	c.JSON(http.StatusCreated, OIDCExchangeResponse{Token: ex.Secret, ExpiresAt: *t.ExpiresAt, Product: ex.Publisher.Product,
		Role: t.Role.String(), ID: t.ID, Name: t.Name, Publisher: ex.Publisher.ID, Versions: t.Versions})
}

func isTooBig(err error) bool {
	var tooBig *http.MaxBytesError
	return errors.As(err, &tooBig)
}
