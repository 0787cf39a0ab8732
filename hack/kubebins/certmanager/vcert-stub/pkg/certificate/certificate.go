// Package certificate is a compile-only stand-in (see go.mod).
package certificate

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"time"
)

type ChainOption int

const (
	ChainOptionRootLast ChainOption = iota
	ChainOptionRootFirst
	ChainOptionIgnore
)

type CSrOriginOption int

const (
	UnknownCSR CSrOriginOption = iota
	LocalGeneratedCSR
	ServiceGeneratedCSR
	UserProvidedCSR
)

type CustomFieldType int

const (
	CustomFieldPlain CustomFieldType = iota
	CustomFieldOrigin
)

type CustomField struct {
	Type  CustomFieldType
	Name  string
	Value string
}

type PEMCollection struct {
	Certificate string
	PrivateKey  string
	Chain       []string
	CSR         string
}

type Request struct {
	Subject          pkix.Name
	DNSNames         []string
	FriendlyName     string
	PickupID         string
	Timeout          time.Duration
	CustomFields     []CustomField
	CsrOrigin        CSrOriginOption
	ChainOption      ChainOption
	IssuerHint       string
	ValidityDuration *time.Duration
	csr              []byte
}

func NewRequest(cert *x509.Certificate) *Request { return &Request{} }

func (request *Request) SetCSR(csr []byte) error {
	request.csr = csr
	return nil
}
