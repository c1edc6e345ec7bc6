package neptune

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	gremlingo "github.com/apache/tinkerpop/gremlin-go/v3/driver"
	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// emptyPayloadHash is the SHA-256 of an empty body: the handshake is a GET.
const emptyPayloadHash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

// handshakeSigner signs the WebSocket handshake as Neptune's IAM
// authentication expects: SigV4 over GET https://host:port/gremlin, service
// neptune-db, empty payload. gremlin-go asks for headers each time it opens a
// connection, so credentials that rotate are picked up by new connections.
type handshakeSigner struct {
	endpoint *url.URL
	region   string
	creds    aws.CredentialsProvider
	signer   *v4.Signer
	log      *slog.Logger
	now      func() time.Time
}

func newHandshakeSigner(endpoint, region string, creds aws.CredentialsProvider, log *slog.Logger) *handshakeSigner {
	u, _ := url.Parse(endpoint) // validated by Config.Validate
	return &handshakeSigner{endpoint: u, region: region, creds: creds, signer: v4.NewSigner(), log: log, now: time.Now}
}

// header returns the signed headers for one handshake.
func (s *handshakeSigner) header(ctx context.Context) (http.Header, error) {
	creds, err := s.creds.Retrieve(ctx)
	if err != nil {
		return nil, fmt.Errorf("cannot retrieve AWS credentials: %w", err)
	}
	// The signature covers the request as the server sees it: scheme is not
	// signed, host and path are.
	u := *s.endpoint
	u.Scheme = "https"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, err
	}
	if err := s.signer.SignHTTP(ctx, creds, req, emptyPayloadHash, "neptune-db", s.region, s.now()); err != nil {
		return nil, fmt.Errorf("cannot sign the Neptune handshake: %w", err)
	}
	h := req.Header.Clone()
	h.Set("Host", req.URL.Host)
	return h, nil
}

// authInfo is the gremlin-go callback. It cannot return an error, so a
// failure is logged and the handshake goes unsigned, which Neptune refuses
// with 403: the writer reports that as access denied (FaultAccess), which is
// what it is while no credentials can be had.
func (s *handshakeSigner) authInfo() gremlingo.AuthInfoProvider {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	h, err := s.header(ctx)
	if err != nil {
		s.log.Error("neptune IAM signing failed", "err", err)
		return &gremlingo.AuthInfo{}
	}
	return gremlingo.HeaderAuthInfo(h)
}

// SignGet signs a GET to one of Neptune's HTTP endpoints (the stream API)
// with IAM SigV4, service neptune-db, as the handshake is signed.
func SignGet(ctx context.Context, req *http.Request, region string, creds aws.CredentialsProvider) error {
	c, err := creds.Retrieve(ctx)
	if err != nil {
		return fmt.Errorf("cannot retrieve AWS credentials: %w", err)
	}
	if err := v4.NewSigner().SignHTTP(ctx, c, req, emptyPayloadHash, "neptune-db", region, time.Now()); err != nil {
		return fmt.Errorf("cannot sign the Neptune request: %w", err)
	}
	return nil
}
