// Package endpoint is a compile-only stand-in (see go.mod).
package endpoint

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/Venafi/vcert/v5/pkg/certificate"
)

type ConnectorType int

const (
	ConnectorTypeUndefined ConnectorType = iota
	ConnectorTypeFake
	ConnectorTypeCloud
	ConnectorTypeTPP
	ConnectorTypeFirefly
	ConnectorTypeNGTS
)

var errNotBuilt = errors.New("the Venafi issuer is not part of this cert-manager build (vcert is not available)")

type Authentication struct {
	User         string
	Password     string
	AccessToken  string
	RefreshToken string
	ClientPKCS12 bool
	APIKey       string
	TokenURL     string
	ExternalJWT  string
	ClientId     string
	ClientSecret string
	Scope        string
}

type Connector interface {
	GetType() ConnectorType
	Ping() error
	Authenticate(auth *Authentication) error
	SetZone(z string)
	SetHTTPClient(client *http.Client)
	ReadZoneConfiguration() (*ZoneConfiguration, error)
	RequestCertificate(req *certificate.Request) (string, error)
	RetrieveCertificate(req *certificate.Request) (*certificate.PEMCollection, error)
}

type ZoneConfiguration struct{}

func (z *ZoneConfiguration) UpdateCertificateRequest(request *certificate.Request) {}
func (z *ZoneConfiguration) ValidateCertificateRequest(request *certificate.Request) error {
	return errNotBuilt
}

type ErrRetrieveCertificateTimeout struct{ CertificateID string }

func (err ErrRetrieveCertificateTimeout) Error() string {
	return fmt.Sprintf("operation timed out; certificate %s", err.CertificateID)
}

type ErrCertificatePending struct {
	CertificateID string
	Status        string
}

func (err ErrCertificatePending) Error() string {
	return fmt.Sprintf("issuance is pending; certificate %s: %s", err.CertificateID, err.Status)
}
