package api

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/reliquary/reliquary/internal/library"
)

// Route is one row of the route table: the only place routes are declared.
// Perm is the least role that may call it (RoleNone: anyone, no token).
// Routes with a :product parameter also enforce the token's product scope.
type Route struct {
	Method  string
	Path    string // gin syntax, relative to the root
	Perm    library.Role
	Handler gin.HandlerFunc
}

// APIPrefix is the versioned API root.
const APIPrefix = "/api/v1"

// Routes is the route table.
func (s *Server) Routes() []Route {
	const (
		anyone  = library.RoleNone
		reader  = library.RoleReader
		pub     = library.RolePublisher
		rm      = library.RoleReleaseManager
		admin   = library.RoleAdmin
		release = APIPrefix + "/products/:product/releases/:version"
	)
	return []Route{
		{http.MethodGet, "/healthz", anyone, s.healthz},
		{http.MethodGet, "/readyz", anyone, s.readyz},
		{http.MethodGet, "/metrics", anyone, s.metrics},
		{http.MethodGet, APIPrefix + "/healthz", anyone, s.healthz},
		{http.MethodGet, APIPrefix + "/readyz", anyone, s.readyz},
		{http.MethodGet, APIPrefix + "/metrics", anyone, s.metrics},

		{http.MethodPost, APIPrefix + "/products", admin, s.createProduct},
		{http.MethodGet, APIPrefix + "/products", reader, s.listProducts},
		{http.MethodGet, APIPrefix + "/products/:product", reader, s.getProduct},
		{http.MethodPut, APIPrefix + "/products/:product/policy", admin, s.setPolicy},

		{http.MethodPost, APIPrefix + "/products/:product/releases", pub, s.createRelease},
		{http.MethodGet, APIPrefix + "/products/:product/releases", reader, s.listReleases},
		{http.MethodGet, release, reader, s.getRelease},
		{http.MethodPut, release + "/artifacts/:name", pub, s.limitUploads(s.uploadArtifact)},
		{http.MethodDelete, release + "/artifacts/:name", pub, s.deleteArtifact},
		{http.MethodGet, release + "/artifacts/:name", reader, s.downloadArtifact},
		{http.MethodHead, release + "/artifacts/:name", reader, s.downloadArtifact},
		{http.MethodGet, release + "/artifacts/:name/signature", reader, s.artifactSignature},
		{http.MethodGet, release + "/artifacts/:name/bundle", reader, s.artifactBundle},

		{http.MethodPost, release + "/seal", pub, s.seal},
		{http.MethodGet, release + "/manifest", reader, s.manifest},
		{http.MethodGet, release + "/manifest/signature", reader, s.manifestSignature},

		{http.MethodPost, release + "/approvals", rm, s.approve},
		{http.MethodPost, release + "/promote", rm, s.promote},
		{http.MethodPost, release + "/withdraw", rm, s.withdraw},
		{http.MethodGet, APIPrefix + "/products/:product/resolve", reader, s.resolve},

		{http.MethodPost, APIPrefix + "/baselines", rm, s.createBaseline},
		{http.MethodGet, APIPrefix + "/baselines", reader, s.listBaselines},
		{http.MethodGet, APIPrefix + "/baselines/:baseline", reader, s.getBaseline},
		{http.MethodGet, APIPrefix + "/baselines/:baseline/manifest", reader, s.baselineManifest},
		{http.MethodGet, APIPrefix + "/baselines/:baseline/manifest/signature", reader, s.baselineSignature},
		{http.MethodGet, APIPrefix + "/baselines/:baseline/diff/:other", reader, s.diffBaselines},
		{http.MethodGet, APIPrefix + "/releases", reader, s.searchReleases},
		{http.MethodPost, APIPrefix + "/deployments", library.RoleDeployer, s.recordDeployment},
		{http.MethodGet, APIPrefix + "/deployments", reader, s.listDeployments},
		{http.MethodGet, APIPrefix + "/environments/:environment", reader, s.getEnvironment},

		{http.MethodPost, APIPrefix + "/tokens", admin, s.createToken},
		{http.MethodGet, APIPrefix + "/tokens", admin, s.listTokens},
		{http.MethodDelete, APIPrefix + "/tokens/:id", admin, s.revokeToken},

		{http.MethodGet, APIPrefix + "/events", reader, s.events},
		{http.MethodGet, APIPrefix + "/audit", admin, s.audit},
		{http.MethodGet, APIPrefix + "/audit/verify", admin, s.auditVerify},
		{http.MethodPost, APIPrefix + "/webhooks", admin, s.createWebhook},
		{http.MethodGet, APIPrefix + "/webhooks", admin, s.listWebhooks},
		{http.MethodDelete, APIPrefix + "/webhooks/:id", admin, s.deleteWebhook},
		{http.MethodGet, APIPrefix + "/webhooks/:id/deliveries", admin, s.webhookDeliveries},
		{http.MethodGet, APIPrefix + "/admin/backup", admin, s.backup},

		{http.MethodGet, APIPrefix + "/signing/key", anyone, s.signingKey},
		{http.MethodGet, APIPrefix + "/signing/keys", anyone, s.signingKeys},

		// Rollout (DESIGN.md §14).
		{http.MethodGet, release + "/rollout", reader, s.getRollout},
		{http.MethodPut, release + "/rollout", rm, s.setRollout},

		// Retention and deletion (DESIGN §13).
		{http.MethodDelete, release, pub, s.deleteRelease},
		{http.MethodPost, APIPrefix + "/retention/run", admin, s.runRetention},

		{http.MethodPost, release + "/attestations", pub, s.addAttestation},
		{http.MethodGet, release + "/attestations", reader, s.listAttestations},
		{http.MethodGet, release + "/attestations/:digest", reader, s.attestationFile},

		// Trusted publishing (DESIGN §11): the exchange is anonymous, the ID token is the credential.
		{http.MethodPost, APIPrefix + "/products/:product/publishers", admin, s.createPublisher},
		{http.MethodGet, APIPrefix + "/products/:product/publishers", admin, s.listPublishers},
		{http.MethodDelete, APIPrefix + "/products/:product/publishers/:id", admin, s.deletePublisher},
		{http.MethodPost, APIPrefix + "/auth/oidc", anyone, s.exchangeOIDC},
		// The signed log and release statements (DESIGN §12, log.go).
		{http.MethodGet, APIPrefix + "/log/checkpoint", reader, s.logCheckpoint},
		{http.MethodGet, APIPrefix + "/log/proof/inclusion", reader, s.logInclusion},
		{http.MethodGet, APIPrefix + "/log/proof/consistency", reader, s.logConsistency},
		{http.MethodGet, release + "/statement", reader, s.releaseStatement},

		// Downloads everywhere (DESIGN §15): header-free links, manifest HEAD.
		{http.MethodGet, release + "/artifacts/:name/link", reader, s.artifactLink},
		{http.MethodHead, release + "/manifest", reader, s.manifest},
	}
}
