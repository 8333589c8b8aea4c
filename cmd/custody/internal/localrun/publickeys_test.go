package localrun

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"

	"github.com/custody-ir/custody/shared/ctdigest"
)

// TestGateServesPublicKeys: the SDK's own CloudTrail client reads the
// gate's ListPublicKeys answer (what the emulator lacks), each region its
// own keys, and the keys validate the digests they signed.
func TestGateServesPublicKeys(t *testing.T) {
	emulatorLacksIt := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "<html>not implemented</html>", http.StatusInternalServerError)
	}))
	defer emulatorLacksIt.Close()
	g, err := StartGate(emulatorLacksIt.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	start := time.Date(2024, 7, 1, 0, 0, 0, 0, time.UTC)
	east, _ := ctdigest.NewSigner("us-east-1", start)
	west, _ := ctdigest.NewSigner("eu-west-1", start)
	g.ServePublicKeys([]ctdigest.PublicKey{east.PublicKey(), west.PublicKey()})
	for _, s := range []*ctdigest.Signer{east, west} {
		c := cloudtrail.New(cloudtrail.Options{Region: s.Region, BaseEndpoint: aws.String(g.URL),
			Credentials: credentials.NewStaticCredentialsProvider("testing", "testing", "")})
		out, err := c.ListPublicKeys(context.Background(), &cloudtrail.ListPublicKeysInput{})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.PublicKeyList) != 1 || aws.ToString(out.PublicKeyList[0].Fingerprint) != s.PublicKey().Fingerprint ||
			string(out.PublicKeyList[0].Value) != string(s.PublicKey().Value) || !aws.ToTime(out.PublicKeyList[0].ValidityStartTime).Equal(start) {
			t.Errorf("%s: %+v, want its one key", s.Region, out.PublicKeyList)
		}
	}
}
