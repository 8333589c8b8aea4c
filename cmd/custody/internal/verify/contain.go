package verify

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strings"

	"github.com/custody-ir/custody/shared/attest"
)

// ContainCheck is what verify found of one run's containment records
// (runs/<runId>/containment/) and the statements the contain function
// signed over them after each step (shared/attest).
type ContainCheck struct {
	// Statements and Records are how many of each the folder holds.
	Statements int `json:"statements"`
	Records    int `json:"records"`
	// KeyARN and Fingerprint name the containment key (from the latest
	// statement and the stored public key).
	KeyARN      string `json:"keyArn,omitempty"`
	Fingerprint string `json:"fingerprint,omitempty"`
	// Pinned: the fingerprint was checked against -contain-key.
	Pinned bool `json:"pinned"`
	// Verified: every statement's signature verifies with the stored key
	// (the pinned one, when pinned), every record a statement lists is as
	// listed, and the latest statement covers every record.
	Verified bool `json:"verified"`
	// Unsigned: records, and no statement at all (contained before custody
	// signed containment, or the statements are gone).
	Unsigned bool `json:"unsigned,omitempty"`
	// SignatureProblems: a statement, its signature or the key does not
	// check (ExitSignature).
	SignatureProblems []string `json:"signatureProblems,omitempty"`
	// Changed: a record not as its statement lists it, missing, or listed
	// by no statement, which is to say unsigned (ExitChanged).
	Changed []string `json:"changed,omitempty"`
}

// containFile is one file (or object version) of a run's containment
// folder: its name in the folder and, in the bucket, its version.
type containFile struct {
	name, version string
	deleteMarker  bool
}

// checkContainment checks a run's containment folder: files are its
// files (or object versions), read reads one (version "" for a folder:
// the file itself). Nil when the run has no containment folder.
func checkContainment(files []containFile, read func(name, version string) ([]byte, error), caseID, runID string, pin Pin, allowUnsigned bool) *ContainCheck {
	if len(files) == 0 {
		return nil
	}
	c := &ContainCheck{Pinned: pin != ""}
	type stmt struct {
		name string
		n    int
	}
	var stmts []stmt
	var records []containFile
	haveSig := map[string]bool{}
	for _, f := range files {
		if f.deleteMarker {
			c.Changed = append(c.Changed, fmt.Sprintf("%s: a delete marker sits on it (version %s)", f.name, f.version))
			continue
		}
		n, _, sig, ok := attest.ParseContainmentStatementName(f.name)
		switch {
		case ok && sig:
			haveSig[f.name] = true
		case ok:
			stmts = append(stmts, stmt{f.name, n})
		case attest.ContainmentSigningFile(f.name):
			// the public key, read below
		default:
			records = append(records, f)
		}
	}
	c.Statements, c.Records = len(stmts), len(records)
	if len(stmts) == 0 {
		if len(records) > 0 {
			c.Unsigned = true
			if !allowUnsigned {
				c.Changed = append(c.Changed, fmt.Sprintf("not signed: %d containment record(s) and no containment statement", len(records)))
			}
		}
		c.Verified = len(c.Changed) == 0 && !c.Unsigned
		return c
	}
	// Statements in the order they were made: by the number of records
	// each covers, and by name for two of the same number.
	sort.Slice(stmts, func(i, j int) bool {
		if stmts[i].n != stmts[j].n {
			return stmts[i].n < stmts[j].n
		}
		return stmts[i].name < stmts[j].name
	})

	pemName := strings.TrimPrefix(attest.ContainmentPublicKeyFile, attest.ContainmentDir)
	pemBytes, err := read(pemName, "")
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			c.SignatureProblems = append(c.SignatureProblems, attest.ContainmentPublicKeyFile+" is missing: no statement can be checked")
		} else {
			c.SignatureProblems = append(c.SignatureProblems, fmt.Sprintf("%s: %v", attest.ContainmentPublicKeyFile, err))
		}
		return c
	}
	pub, der, err := attest.ParsePublicKey(pemBytes)
	if err != nil {
		c.SignatureProblems = append(c.SignatureProblems, attest.ContainmentPublicKeyFile+": "+err.Error())
		return c
	}
	c.Fingerprint = attest.Fingerprint(der)
	if pin != "" && string(pin) != c.Fingerprint {
		c.SignatureProblems = append(c.SignatureProblems, fmt.Sprintf("signed by key %s, not the pinned containment key %s", c.Fingerprint, pin))
	}

	// Each record version's SHA-256 and size, read once.
	type sum struct {
		sha  string
		size int64
		err  error
	}
	sums := map[containFile]sum{}
	hashOf := func(f containFile) sum {
		if s, ok := sums[f]; ok {
			return s
		}
		b, err := read(f.name, f.version)
		s := sum{err: err}
		if err == nil {
			h := sha256.Sum256(b)
			s = sum{sha: hex.EncodeToString(h[:]), size: int64(len(b))}
		}
		sums[f] = s
		return s
	}
	present := map[containFile]bool{}
	byName := map[string][]containFile{}
	for _, r := range records {
		present[r] = true
		byName[r.name] = append(byName[r.name], r)
	}

	var latest *attest.ContainmentStatement
	latestName := ""
	for _, s := range stmts {
		msg, err := read(s.name, "")
		if err != nil {
			c.SignatureProblems = append(c.SignatureProblems, fmt.Sprintf("%s: %v", s.name, err))
			continue
		}
		sigName := attest.ContainmentSignatureFile(s.name)
		if !haveSig[sigName] {
			c.SignatureProblems = append(c.SignatureProblems, fmt.Sprintf("%s has no signature (%s)", s.name, sigName))
			continue
		}
		sig, err := read(sigName, "")
		if err != nil {
			c.SignatureProblems = append(c.SignatureProblems, fmt.Sprintf("%s: %v", sigName, err))
			continue
		}
		if err := attest.Verify(pub, msg, sig); err != nil {
			c.SignatureProblems = append(c.SignatureProblems, fmt.Sprintf("%s: %v", sigName, err))
			continue
		}
		st, err := attest.ParseContainmentStatement(msg)
		if err != nil {
			c.SignatureProblems = append(c.SignatureProblems, fmt.Sprintf("%s: %v", s.name, err))
			continue
		}
		bad := len(c.SignatureProblems)
		if st.CaseID != caseID || st.RunID != runID {
			c.SignatureProblems = append(c.SignatureProblems, fmt.Sprintf("%s is for case %s run %s, found with case %s run %s", s.name, st.CaseID, st.RunID, caseID, runID))
		}
		if st.PublicKeyFingerprint != c.Fingerprint {
			c.SignatureProblems = append(c.SignatureProblems, fmt.Sprintf("%s names key %s, the stored public key is %s", s.name, st.PublicKeyFingerprint, c.Fingerprint))
		}
		if want := strings.TrimPrefix(st.File(), attest.ContainmentDir); want != s.name {
			c.SignatureProblems = append(c.SignatureProblems, fmt.Sprintf("%s is stored under another name than its own (%s)", s.name, want))
		}
		if len(c.SignatureProblems) > bad {
			continue
		}
		for _, r := range st.Records {
			f, ok := findRecord(byName[r.Name], r.VersionID)
			if !ok {
				c.Changed = append(c.Changed, fmt.Sprintf("%s: listed by %s (version %s) and missing", r.Name, s.name, r.VersionID))
				continue
			}
			got := hashOf(f)
			switch {
			case got.err != nil:
				c.Changed = append(c.Changed, fmt.Sprintf("%s: %v", r.Name, got.err))
			case got.sha != r.SHA256 || got.size != r.Size:
				c.Changed = append(c.Changed, fmt.Sprintf("%s: sha256 %s (%d bytes), %s signed %s (%d bytes): not the record signed", r.Name, got.sha, got.size, s.name, r.SHA256, r.Size))
			}
		}
		latest, latestName = st, s.name
	}
	if latest == nil {
		c.Changed = append(c.Changed, fmt.Sprintf("no verified containment statement covers the %d record(s): unsigned", len(records)))
		return c
	}
	c.KeyARN = latest.KeyARN
	covered := map[containFile]bool{}
	for _, r := range latest.Records {
		if f, ok := findRecord(byName[r.Name], r.VersionID); ok {
			covered[f] = true
		}
	}
	for _, r := range records {
		if !covered[r] {
			where := r.name
			if r.version != "" {
				where += " (version " + r.version + ")"
			}
			c.Changed = append(c.Changed, fmt.Sprintf("%s: not in the latest containment statement (%s): unsigned", where, latestName))
		}
	}
	c.Verified = len(c.SignatureProblems) == 0 && len(c.Changed) == 0
	return c
}

// findRecord is the record version a statement lists: by version in the
// bucket; in a folder, which keeps no versions, the file of that name.
func findRecord(fs []containFile, version string) (containFile, bool) {
	for _, f := range fs {
		if f.version == "" || f.version == version {
			return f, true
		}
	}
	return containFile{}, false
}

// line is the one line Print gives a run's containment.
func (c *ContainCheck) line() string {
	switch {
	case c == nil:
		return ""
	case c.Unsigned && len(c.Changed) == 0:
		return fmt.Sprintf("containment: %d record(s), not signed (accepted: -allow-unsigned)", c.Records)
	case c.Unsigned:
		return fmt.Sprintf("containment: %d record(s), not signed", c.Records)
	case !c.Verified:
		return fmt.Sprintf("containment: does not verify (%d statement(s), %d record(s))", c.Statements, c.Records)
	case c.Pinned:
		return fmt.Sprintf("containment: ok, %d record(s) under %d signed statement(s), key %s (%s), the pinned key", c.Records, c.Statements, c.Fingerprint, c.KeyARN)
	default:
		return fmt.Sprintf("containment: ok, %d record(s) under %d signed statement(s), key %s (%s); NOTHING PINNED: pin the deployed containment key with -contain-key", c.Records, c.Statements, c.Fingerprint, c.KeyARN)
	}
}

// problems are every problem of the check, for Print.
func (c *ContainCheck) problems() []string {
	if c == nil {
		return nil
	}
	return append(append([]string{}, c.SignatureProblems...), c.Changed...)
}
