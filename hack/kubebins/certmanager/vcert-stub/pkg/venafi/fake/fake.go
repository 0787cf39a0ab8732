// Package fake is a compile-only stand-in (see go.mod): imported only by cert-manager's Venafi tests.
package fake
