package main

import (
	"encoding/hex"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/reliquary/reliquary/api/client"
	"github.com/reliquary/reliquary/internal/library"
)

// installedAlready reports whether path is a regular file of this size and
// SHA-256: `get` does not download it again (its signature is still
// checked).
func installedAlready(root *os.Root, name string, size int64, sha string) bool {
	st, err := root.Lstat(name)
	if err != nil || !st.Mode().IsRegular() || st.Size() != size {
		return false
	}
	sum, err := fileSHA256(root, name)
	return err == nil && hex.EncodeToString(sum) == sha
}

// partStarted reports whether a previous run left bytes in the part file.
func partStarted(root *os.Root, name string) bool {
	st, err := root.Lstat(name)
	return err == nil && st.Size() > 0
}

// restartPart throws a part file away and downloads the artifact whole,
// returning the new file's SHA-256.
func restartPart(cmd *cobra.Command, c *client.Client, r ref, root *os.Root, name string, size int64, part string) ([]byte, error) {
	if err := root.Remove(part); err != nil && !os.IsNotExist(err) {
		return nil, err
	}
	if err := downloadPart(cmd, c, r, root, name, size, part, func(int64) {}); err != nil {
		return nil, err
	}
	return fileSHA256(root, part)
}

// resolveForGet resolves what get installs. No range ever resolves to a
// withdrawn release; with --allow-withdrawn an exact version that is
// withdrawn is fetched anyway (forensics), with a warning on stderr that
// --quiet does not silence.
func resolveForGet(cmd *cobra.Command, c *client.Client, f *getFlags, r ref) (*client.Resolution, error) {
	ctx := cmd.Context()
	if f.allowWithdrawn {
		v := library.NormalizeVersionInput(r.version)
		if _, err := library.ParseVersion(v); err != nil {
			return nil, usageError{fmt.Errorf("--allow-withdrawn needs an exact version (%s@1.2.3), not %q", r.product, r.version)}
		}
		rel, err := c.Release(ctx, r.product, v)
		if err != nil {
			return nil, fmt.Errorf("release %s@%s: %w", r.product, v, err)
		}
		if rel.State == client.StateWithdrawn {
			fmt.Fprintf(cmd.ErrOrStderr(), "WARNING: %s@%s is WITHDRAWN%s. Fetched for forensics only: do not install it.\n",
				rel.Product, rel.Version, withdrawnReason(rel))
			base := "/api/v1/products/" + rel.Product + "/releases/" + rel.Version + "/artifacts/"
			res := &client.Resolution{Release: *rel, ManifestURL: "/api/v1/products/" + rel.Product + "/releases/" + rel.Version + "/manifest"}
			for _, a := range rel.Artifacts {
				if platformRuns(a.OS, anyPlatform(f.os)) && platformRuns(a.Arch, anyPlatform(f.arch)) {
					res.Artifacts = append(res.Artifacts, client.ResolvedArtifact{Artifact: a,
						DownloadURL: base + a.Name, SignatureURL: base + a.Name + "/signature"})
				}
			}
			return res, nil
		}
	}
	res, err := c.Resolve(ctx, r.product, client.ResolveQuery{Constraint: r.version, OS: anyPlatform(f.os),
		Arch: anyPlatform(f.arch), MinState: f.minState, Current: f.current, Target: f.target, Environment: f.environment})
	if err != nil {
		return nil, fmt.Errorf("resolve %s: %w", r, err)
	}
	return res, nil
}

// platformRuns is library.MatchArtifacts' rule: an artifact built for have
// ("" for any) runs where want ("" for any) is asked.
func platformRuns(have, want string) bool { return have == "" || want == "" || have == want }

func withdrawnReason(rel *client.Release) string {
	if rel.Withdrawn != nil && rel.Withdrawn.Reason != "" {
		return " (" + rel.Withdrawn.Reason + ")"
	}
	return ""
}
