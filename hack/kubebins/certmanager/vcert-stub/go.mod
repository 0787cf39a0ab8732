// A stand-in for github.com/Venafi/vcert/v5, which the Go module proxy does not serve: just the names cert-manager's
// Venafi issuer compiles against. Every call fails, so this cert-manager build has no working Venafi issuer (the
// local cluster uses the SelfSigned and CA issuers only).
module github.com/Venafi/vcert/v5

go 1.25.0
