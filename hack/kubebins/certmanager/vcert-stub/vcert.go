// Package vcert is a compile-only stand-in (see go.mod): NewClient always fails.
package vcert

import (
	"errors"
	"net/http"

	"github.com/Venafi/vcert/v5/pkg/endpoint"
)

// ErrNotBuilt is returned by every entry point of this stand-in.
var ErrNotBuilt = errors.New("the Venafi issuer is not part of this cert-manager build (vcert is not available)")

type Config struct {
	ConnectorType   endpoint.ConnectorType
	BaseUrl         string
	Zone            string
	Credentials     *endpoint.Authentication
	ConnectionTrust string
	LogVerbose      bool
	Client          *http.Client
	UserAgent       *string
}

func NewClient(cfg *Config, args ...interface{}) (endpoint.Connector, error) { return nil, ErrNotBuilt }
