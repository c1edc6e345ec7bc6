package neptunelocal

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// Credentials are the AWS credentials a client must sign its handshake with
// when IAM authentication is on.
type Credentials struct {
	AccessKeyID     string
	SecretAccessKey string
	SessionToken    string
}

// signingService is the SigV4 service name of Neptune's data plane.
const signingService = "neptune-db"

// emptyPayloadHash is the SHA-256 of an empty body: a WebSocket handshake is
// a GET without one.
const emptyPayloadHash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

// maxClockSkew is how far a signature's X-Amz-Date may be from now, as AWS
// allows.
const maxClockSkew = 5 * time.Minute

// verifier checks SigV4 signatures of WebSocket handshakes the way Neptune's
// IAM authentication does: it recomputes the signature over the headers the
// client says it signed, with the known secret, and compares.
type verifier struct {
	creds  Credentials
	region string
	now    func() time.Time
}

// authHeader is the parsed Authorization header:
// AWS4-HMAC-SHA256 Credential=AKID/20261121/us-east-1/neptune-db/aws4_request, SignedHeaders=host;x-amz-date, Signature=hex
type authHeader struct {
	accessKey, date, region, service string
	signedHeaders                    []string
	signature                        string
}

func parseAuthorization(h string) (authHeader, error) {
	var a authHeader
	const algo = "AWS4-HMAC-SHA256 "
	if !strings.HasPrefix(h, algo) {
		return a, errors.New("Authorization is not AWS4-HMAC-SHA256")
	}
	for _, part := range strings.Split(strings.TrimPrefix(h, algo), ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return a, fmt.Errorf("Authorization has a malformed part %q", part)
		}
		switch k {
		case "Credential":
			scope := strings.Split(v, "/")
			if len(scope) != 5 || scope[4] != "aws4_request" {
				return a, errors.New("Authorization has a malformed credential scope")
			}
			a.accessKey, a.date, a.region, a.service = scope[0], scope[1], scope[2], scope[3]
		case "SignedHeaders":
			a.signedHeaders = strings.Split(v, ";")
		case "Signature":
			a.signature = v
		}
	}
	if a.accessKey == "" || a.signature == "" || len(a.signedHeaders) == 0 {
		return a, errors.New("Authorization lacks Credential, SignedHeaders or Signature")
	}
	return a, nil
}

func (v *verifier) verify(r *http.Request) error {
	h := r.Header.Get("Authorization")
	if h == "" {
		return errors.New("missing Authorization header: IAM authentication is enabled")
	}
	a, err := parseAuthorization(h)
	if err != nil {
		return err
	}
	switch {
	case a.accessKey != v.creds.AccessKeyID:
		return errors.New("the access key is not known")
	case a.service != signingService:
		return fmt.Errorf("signed for service %q, want %q", a.service, signingService)
	case a.region != v.region:
		return fmt.Errorf("signed for region %q, want %q", a.region, v.region)
	}
	signedAt, err := time.Parse("20060102T150405Z", r.Header.Get("X-Amz-Date"))
	if err != nil {
		return errors.New("missing or malformed X-Amz-Date")
	}
	if d := v.now().Sub(signedAt); d > maxClockSkew || d < -maxClockSkew {
		return fmt.Errorf("signature date %s is more than %s from now", signedAt.Format(time.RFC3339), maxClockSkew)
	}
	if a.date != signedAt.Format("20060102") {
		return errors.New("credential scope date does not match X-Amz-Date")
	}
	if !contains(a.signedHeaders, "host") || !contains(a.signedHeaders, "x-amz-date") {
		return errors.New("host and x-amz-date must be signed")
	}
	if v.creds.SessionToken != "" && r.Header.Get("X-Amz-Security-Token") != v.creds.SessionToken {
		return errors.New("missing or wrong X-Amz-Security-Token")
	}

	// Rebuild the request as the client signed it: same method, path, query
	// and host, and only the headers it says it signed. The handshake's own
	// headers (Upgrade, Sec-WebSocket-Key, ...) were added after signing.
	req, err := http.NewRequestWithContext(context.Background(), r.Method, "https://"+r.Host+r.URL.RequestURI(), nil)
	if err != nil {
		return err
	}
	req.Host = r.Host
	for _, name := range a.signedHeaders {
		if name == "host" {
			continue
		}
		for _, val := range r.Header.Values(name) {
			req.Header.Add(name, val)
		}
	}
	creds := aws.Credentials{AccessKeyID: v.creds.AccessKeyID, SecretAccessKey: v.creds.SecretAccessKey, SessionToken: v.creds.SessionToken}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, emptyPayloadHash, signingService, v.region, signedAt); err != nil {
		return fmt.Errorf("cannot recompute signature: %w", err)
	}
	want, err := parseAuthorization(req.Header.Get("Authorization"))
	if err != nil {
		return err
	}
	if subtle.ConstantTimeCompare([]byte(want.signature), []byte(a.signature)) != 1 {
		return errors.New("the signature does not match")
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
