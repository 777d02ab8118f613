package api

import (
	"github.com/reliquary/reliquary/api/wire"
	"github.com/reliquary/reliquary/internal/library"
)

// The edge between the domain and the contract: the library's types as
// the wire types the API encodes (api/wire). A field renamed on either
// side fails to compile here; TestWireConversionsKeepJSON pins that each
// conversion writes the same JSON as the domain type it replaces.

func wireProduct(p *library.Product) wire.Product {
	return wire.Product{Name: p.Name, Description: p.Description, Owner: p.Owner, CIID: p.CIID,
		Policy: wirePolicy(p.Policy), CreatedBy: p.CreatedBy, CreatedAt: p.CreatedAt}
}

func wirePolicy(p library.Policy) wire.Policy {
	out := wire.Policy{RequiredApprovals: p.RequiredApprovals, FourEyes: p.FourEyes, RequireChangeID: p.RequireChangeID,
		SupportedMajors: p.SupportedMajors, SupportedMinors: p.SupportedMinors, MaxArtifactBytes: p.MaxArtifactBytes,
		RolloutHaltFailureRatio: p.RolloutHaltFailureRatio,
		AttestationKeys:         p.AttestationKeys, RequiredAttestations: p.RequiredAttestations}
	if p.AllowedTypes != nil {
		out.AllowedTypes = make([]string, len(p.AllowedTypes))
		for i, t := range p.AllowedTypes {
			out.AllowedTypes[i] = string(t)
		}
	}
	if p.Retention != nil {
		out.Retention = &wire.RetentionPolicy{DraftsDays: p.Retention.DraftsDays, CandidatesKeep: p.Retention.CandidatesKeep}
	}
	return out
}

func wireRelease(r *library.Release) wire.Release {
	out := wire.Release{Product: r.Product, Version: r.Version, Type: string(r.Type), Prerelease: r.Prerelease,
		State: string(r.State), SupersededBy: r.SupersededBy, ChangeID: r.ChangeID, CIIDs: r.CIIDs, Labels: r.Labels,
		Notes: r.Notes, CreatedBy: r.CreatedBy, CreatedAt: r.CreatedAt, SealedBy: r.SealedBy, SealedAt: r.SealedAt,
		ManifestDigest: r.ManifestDigest, ReleasedBy: r.ReleasedBy, ReleasedAt: r.ReleasedAt,
		AttestationDigests: r.AttestationDigests}
	if r.Approvals != nil {
		out.Approvals = make([]wire.Approval, len(r.Approvals))
		for i, a := range r.Approvals {
			out.Approvals[i] = wire.Approval{By: a.By, At: a.At, Comment: a.Comment}
		}
	}
	if w := r.Withdrawn; w != nil {
		out.Withdrawn = &wire.Withdrawal{By: w.By, At: w.At, Reason: w.Reason, ChangeID: w.ChangeID}
	}
	if r.History != nil {
		out.History = make([]wire.Transition, len(r.History))
		for i, t := range r.History {
			out.History[i] = wire.Transition{From: string(t.From), To: string(t.To), Actor: t.Actor, Time: t.Time,
				ChangeID: t.ChangeID, Comment: t.Comment}
		}
	}
	if r.Artifacts != nil {
		out.Artifacts = make([]wire.Artifact, len(r.Artifacts))
		for i := range r.Artifacts {
			out.Artifacts[i] = wireArtifact(&r.Artifacts[i])
		}
	}
	if r.Rollout != nil {
		ro := wireRollout(r.Rollout)
		out.Rollout = &ro
	}
	return out
}

func wireArtifact(a *library.Artifact) wire.Artifact {
	return wire.Artifact{Name: a.Name, Size: a.Size, SHA256: a.SHA256, MediaType: a.MediaType, OS: a.OS, Arch: a.Arch,
		UploadedBy: a.UploadedBy, UploadedAt: a.UploadedAt, Signature: a.Signature, KeyID: a.KeyID}
}

func wireRollout(r *library.Rollout) wire.Rollout {
	out := wire.Rollout{Percent: r.Percent, PilotCount: r.PilotCount, Environments: r.Environments,
		RequiredAfter: r.RequiredAfter, UpdatedBy: r.UpdatedBy, UpdatedAt: r.UpdatedAt}
	if h := r.Halted; h != nil {
		out.Halted = &wire.RolloutHalt{At: h.At, Deployments: h.Deployments, Failed: h.Failed, Ratio: h.Ratio,
			PreviousPercent: h.PreviousPercent, DeploymentID: h.DeploymentID}
	}
	return out
}

func wireToken(t *library.Token) wire.Token {
	out := wire.Token{ID: t.ID, Name: t.Name, Role: t.Role.String(), Products: nonNil(t.Products), CreatedBy: t.CreatedBy,
		CreatedAt: t.CreatedAt, ExpiresAt: t.ExpiresAt, LastUsedAt: t.LastUsedAt, Versions: t.Versions}
	if o := t.OIDC; o != nil {
		out.OIDC = &wire.TokenOIDC{Issuer: o.Issuer, Subject: o.Subject, Publisher: o.Publisher}
	}
	return out
}

func wirePublisher(p *library.TrustedPublisher) wire.Publisher {
	return wire.Publisher{ID: p.ID, Product: p.Product, Issuer: p.Issuer, Audience: p.Audience, Claims: p.Claims,
		Role: p.Role.String(), Versions: p.Versions, CreatedBy: p.CreatedBy, CreatedAt: p.CreatedAt}
}

func wireWebhook(w *library.Webhook, delivered uint64) wire.Webhook {
	return wire.Webhook{ID: w.ID, URL: w.URL, Types: nonNil(w.Types), CreatedBy: w.CreatedBy, CreatedAt: w.CreatedAt,
		DeliveredSeq: delivered}
}

func wireDelivery(d library.Delivery) wire.Delivery {
	return wire.Delivery{Seq: d.Seq, Type: d.Type, Attempt: d.Attempt, At: d.At, StatusCode: d.StatusCode,
		Error: d.Error, DurationMS: d.DurationMS, OK: d.OK}
}

func wireEvent(e *library.JournalEvent) wire.Event {
	return wire.Event{Seq: e.Seq, Time: e.Time, Actor: e.Actor, Type: e.Type, Subject: e.Subject, Data: e.Data,
		PrevHash: e.PrevHash, Hash: e.Hash}
}

func wireAuditReport(r library.VerifyReport) wire.AuditReport {
	return wire.AuditReport{OK: r.OK, Events: r.Events, HeadSeq: r.HeadSeq, HeadHash: r.HeadHash,
		BrokenSeq: r.BrokenSeq, Reason: r.Reason}
}

func wireAttestation(a *library.Attestation) wire.Attestation {
	out := wire.Attestation{Digest: a.Digest, PredicateType: a.PredicateType, Signer: a.Signer, Format: a.Format,
		Size: a.Size, UploadedBy: a.UploadedBy, UploadedAt: a.UploadedAt}
	if a.Subjects != nil {
		out.Subjects = make([]wire.AttestationSubject, len(a.Subjects))
		for i, s := range a.Subjects {
			out.Subjects[i] = wire.AttestationSubject{Name: s.Name, SHA256: s.SHA256}
		}
	}
	return out
}

func wireBaselineDiff(d *library.BaselineDiff) wire.BaselineDiff {
	out := wire.BaselineDiff{From: d.From, To: d.To}
	if d.Changes != nil {
		out.Changes = make([]wire.ProductChange, len(d.Changes))
		for i, c := range d.Changes {
			out.Changes[i] = wire.ProductChange{Product: c.Product, Change: string(c.Change), From: c.From, To: c.To, Type: string(c.Type)}
		}
	}
	return out
}

func wireDeployment(d *library.Deployment) wire.Deployment {
	return wire.Deployment{ID: d.ID, Product: d.Product, Version: d.Version, Type: string(d.Type), Environment: d.Environment,
		Target: d.Target, Status: string(d.Status), ChangeID: d.ChangeID, Details: d.Details, RecordedBy: d.RecordedBy,
		RecordedAt: d.RecordedAt}
}

func wireEnvironment(v *library.EnvironmentView) wire.Environment {
	out := wire.Environment{Environment: v.Environment}
	if v.Installs != nil {
		out.Installs = make([]wire.Install, len(v.Installs))
		for i, in := range v.Installs {
			w := wire.Install{Product: in.Product, Target: in.Target, Version: in.Version, Type: string(in.Type),
				Status: string(in.Status), DeploymentID: in.DeploymentID, ChangeID: in.ChangeID, DeployedBy: in.DeployedBy,
				DeployedAt: in.DeployedAt, State: string(in.State), Superseded: in.Superseded, SupersededBy: in.SupersededBy,
				Withdrawn: in.Withdrawn}
			if wd := in.Withdrawal; wd != nil {
				w.Withdrawal = &wire.Withdrawal{By: wd.By, At: wd.At, Reason: wd.Reason, ChangeID: wd.ChangeID}
			}
			if in.LastAttempt != nil {
				d := wireDeployment(in.LastAttempt)
				w.LastAttempt = &d
			}
			out.Installs[i] = w
		}
	}
	return out
}

func wireDeletedRelease(d *library.DeletedRelease) wire.DeletedRelease {
	return wire.DeletedRelease{Product: d.Product, Version: d.Version, State: string(d.State), Artifacts: d.Artifacts,
		Bytes: d.Bytes, Seq: d.Seq}
}

func wireRetentionReport(r *library.RetentionReport) wire.RetentionReport {
	items := func(in []library.RetentionItem) []wire.RetentionItem {
		if in == nil {
			return nil
		}
		out := make([]wire.RetentionItem, len(in))
		for i, it := range in {
			out[i] = wire.RetentionItem{Product: it.Product, Version: it.Version, State: string(it.State), Reason: it.Reason,
				Rule: it.Rule, Detail: it.Detail, Bytes: it.Bytes}
		}
		return out
	}
	return wire.RetentionReport{DryRun: r.DryRun, RanAt: r.RanAt, Products: r.Products, Deleted: items(r.Deleted),
		Kept: items(r.Kept), BytesFreed: r.BytesFreed}
}

func wireRolloutView(v *library.RolloutView) wire.RolloutView {
	out := wire.RolloutView{Product: v.Product, Version: v.Version, State: string(v.State), FullyRolledOut: v.FullyRolledOut,
		Rollout: wireRollout(&v.Rollout), Pilots: v.Pilots, Totals: wireRolloutCounts(v.Totals)}
	if v.Deployments != nil {
		out.Deployments = make(map[string]wire.RolloutCounts, len(v.Deployments))
		for env, c := range v.Deployments {
			out.Deployments[env] = wireRolloutCounts(c)
		}
	}
	return out
}

func wireRolloutCounts(c library.RolloutCounts) wire.RolloutCounts {
	return wire.RolloutCounts{Succeeded: c.Succeeded, Failed: c.Failed, RolledBack: c.RolledBack}
}

// Request bodies: decoded as wire types, handed to the library as its own.

func libProductInput(in wire.ProductInput) library.ProductInput {
	out := library.ProductInput{Name: in.Name, Description: in.Description, Owner: in.Owner, CIID: in.CIID}
	if in.Policy != nil {
		p := libPolicyInput(*in.Policy)
		out.Policy = &p
	}
	return out
}

func libPolicyInput(in wire.PolicyInput) library.PolicyInput {
	out := library.PolicyInput{RequiredApprovals: in.RequiredApprovals, FourEyes: in.FourEyes, RequireChangeID: in.RequireChangeID,
		SupportedMajors: in.SupportedMajors, SupportedMinors: in.SupportedMinors, MaxArtifactBytes: in.MaxArtifactBytes,
		RolloutHaltFailureRatio: in.RolloutHaltFailureRatio,
		AttestationKeys:         in.AttestationKeys, RequiredAttestations: in.RequiredAttestations}
	if in.AllowedTypes != nil {
		out.AllowedTypes = make([]library.ReleaseType, len(in.AllowedTypes))
		for i, t := range in.AllowedTypes {
			out.AllowedTypes[i] = library.ReleaseType(t)
		}
	}
	if in.Retention != nil {
		out.Retention = &library.RetentionPolicy{DraftsDays: in.Retention.DraftsDays, CandidatesKeep: in.Retention.CandidatesKeep}
	}
	return out
}

func libReleaseInput(in wire.ReleaseInput) library.ReleaseInput {
	return library.ReleaseInput{Version: in.Version, ChangeID: in.ChangeID, CIIDs: in.CIIDs, Labels: in.Labels, Notes: in.Notes}
}

func libPromoteInput(in wire.PromoteInput) library.PromoteInput {
	out := library.PromoteInput{To: in.To, ChangeID: in.ChangeID, Comment: in.Comment}
	if in.Rollout != nil {
		r := libRolloutInput(*in.Rollout)
		out.Rollout = &r
	}
	return out
}

func libRolloutInput(in wire.RolloutInput) library.RolloutInput {
	return library.RolloutInput{Percent: in.Percent, Pilots: in.Pilots, Environments: in.Environments, RequiredAfter: in.RequiredAfter}
}

func libWithdrawInput(in wire.WithdrawInput) library.WithdrawInput {
	return library.WithdrawInput{Reason: in.Reason, ChangeID: in.ChangeID}
}

func libPublisherInput(in wire.PublisherInput) library.PublisherInput {
	return library.PublisherInput{Issuer: in.Issuer, Audience: in.Audience, Claims: in.Claims, Role: in.Role, Versions: in.Versions}
}

func libBaselineInput(in wire.BaselineInput) library.BaselineInput {
	out := library.BaselineInput{Name: in.Name, Description: in.Description, ChangeID: in.ChangeID, From: in.From}
	if in.Releases != nil {
		out.Releases = make([]library.ReleaseRef, len(in.Releases))
		for i, r := range in.Releases {
			out.Releases[i] = library.ReleaseRef{Product: r.Product, Version: r.Version}
		}
	}
	return out
}

func libDeploymentInput(in wire.DeploymentInput) library.DeploymentInput {
	return library.DeploymentInput{Product: in.Product, Version: in.Version, Environment: in.Environment, Target: in.Target,
		Status: library.DeploymentStatus(in.Status), ChangeID: in.ChangeID, Details: in.Details}
}

func wireBaseline(b *library.Baseline) wire.Baseline {
	out := wire.Baseline{Name: b.Name, Description: b.Description, ChangeID: b.ChangeID, From: b.From,
		CreatedBy: b.CreatedBy, CreatedAt: b.CreatedAt, ManifestDigest: b.ManifestDigest, KeyID: b.KeyID}
	if b.Releases != nil {
		out.Releases = make([]wire.BaselineMember, len(b.Releases))
		for i, m := range b.Releases {
			out.Releases[i] = wire.BaselineMember{Product: m.Product, Version: m.Version, Type: string(m.Type)}
		}
	}
	return out
}

func wireBaselineView(b *library.BaselineView) wire.BaselineView {
	out := wire.BaselineView{Name: b.Name, Description: b.Description, ChangeID: b.ChangeID, From: b.From,
		CreatedBy: b.CreatedBy, CreatedAt: b.CreatedAt, ManifestDigest: b.ManifestDigest, KeyID: b.KeyID}
	if b.Releases != nil {
		out.Releases = make([]wire.MemberView, len(b.Releases))
		for i, m := range b.Releases {
			v := wire.MemberView{Product: m.Product, Version: m.Version, Type: string(m.Type), State: string(m.State),
				SupersededBy: m.SupersededBy, Withdrawn: m.Withdrawn}
			if wd := m.Withdrawal; wd != nil {
				v.Withdrawal = &wire.Withdrawal{By: wd.By, At: wd.At, Reason: wd.Reason, ChangeID: wd.ChangeID}
			}
			out.Releases[i] = v
		}
	}
	return out
}
