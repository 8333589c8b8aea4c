package localrun

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"regexp"
	"strings"

	"github.com/custody-ir/custody/shared/ctdigest"
)

// ServePublicKeys makes the gate answer cloudtrail:ListPublicKeys, which the
// emulator does not implement (an HTML 500, measured), with keys: the ones
// the scenario tool signed the seeded digests with, each listed in its
// region (read from the request's credential scope), in the API's JSON
// shape (Value base64 DER, Fingerprint, validity in epoch seconds).
func (g *Gate) ServePublicKeys(keys []ctdigest.PublicKey) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.publicKeys = append(g.publicKeys, keys...)
}

// credentialRegion is the region of a SigV4 Authorization header's scope.
var credentialRegion = regexp.MustCompile(`Credential=[^/]+/\d{8}/([a-z0-9-]+)/cloudtrail/`)

// listPublicKeys answers r if it is a ListPublicKeys call; it reports
// whether it did.
func (g *Gate) listPublicKeys(w http.ResponseWriter, r *http.Request) bool {
	if r.Method != http.MethodPost || !strings.HasSuffix(r.Header.Get("X-Amz-Target"), ".ListPublicKeys") {
		return false
	}
	region := ""
	if m := credentialRegion.FindStringSubmatch(r.Header.Get("Authorization")); m != nil {
		region = m[1]
	}
	type key struct {
		Value             string  `json:"Value"`
		ValidityStartTime float64 `json:"ValidityStartTime"`
		ValidityEndTime   float64 `json:"ValidityEndTime"`
		Fingerprint       string  `json:"Fingerprint"`
	}
	out := struct {
		PublicKeyList []key `json:"PublicKeyList"`
	}{PublicKeyList: []key{}}
	g.mu.Lock()
	for _, k := range g.publicKeys {
		if k.Region == region {
			out.PublicKeyList = append(out.PublicKeyList, key{Value: base64.StdEncoding.EncodeToString(k.Value),
				ValidityStartTime: float64(k.ValidityStartTime.Unix()), ValidityEndTime: float64(k.ValidityEndTime.Unix()), Fingerprint: k.Fingerprint})
		}
	}
	g.mu.Unlock()
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	_ = json.NewEncoder(w).Encode(out)
	return true
}
