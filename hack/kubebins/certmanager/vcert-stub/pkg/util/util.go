// Package util is a compile-only stand-in (see go.mod).
package util

import "net/http"

const IssuerHintAllIssuers = ""

func UserAgentRoundTripper(rt http.RoundTripper, userAgent string) http.RoundTripper { return rt }
