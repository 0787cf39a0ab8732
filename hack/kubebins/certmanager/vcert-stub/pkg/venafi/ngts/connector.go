// Package ngts is a compile-only stand-in (see go.mod).
package ngts

import (
	"errors"
	"net/http"

	"github.com/Venafi/vcert/v5/pkg/certificate"
	"github.com/Venafi/vcert/v5/pkg/endpoint"
)

var errNotBuilt = errors.New("the Venafi issuer is not part of this cert-manager build (vcert is not available)")

type Connector struct{}

func (c *Connector) GetType() endpoint.ConnectorType                  { return endpoint.ConnectorTypeUndefined }
func (c *Connector) Ping() error                                      { return errNotBuilt }
func (c *Connector) Authenticate(auth *endpoint.Authentication) error { return errNotBuilt }
func (c *Connector) SetZone(z string)                                 {}
func (c *Connector) SetHTTPClient(client *http.Client)                {}
func (c *Connector) ReadZoneConfiguration() (*endpoint.ZoneConfiguration, error) {
	return nil, errNotBuilt
}
func (c *Connector) RequestCertificate(req *certificate.Request) (string, error) {
	return "", errNotBuilt
}
func (c *Connector) RetrieveCertificate(req *certificate.Request) (*certificate.PEMCollection, error) {
	return nil, errNotBuilt
}
