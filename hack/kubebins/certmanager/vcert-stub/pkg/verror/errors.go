// Package verror is a compile-only stand-in (see go.mod).
package verror

import "errors"

var ServerUnavailableError = errors.New("server unavailable")
