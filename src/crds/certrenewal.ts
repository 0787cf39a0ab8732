// CertRenewal: tracks TLS expiry, triggers renewal, proves that endpoints serve the new certificate.
import {
  Arr,
  Bool,
  commonStatus,
  DNS_SUBDOMAIN_PATTERN,
  Duration,
  Enum,
  Int,
  Obj,
  ObjectName,
  Optional,
  Str,
  type Static,
} from './schema.js';

const Target = Obj(
  {
    secretRef: Optional(
      Obj(
        { name: ObjectName('Name of a kubernetes.io/tls Secret in this namespace.') },
        { description: 'Watch a TLS Secret.' },
      ),
    ),
    certificateRef: Optional(
      Obj(
        { name: ObjectName('Name of a cert-manager Certificate in this namespace.') },
        { description: 'Watch a cert-manager Certificate (and the Secret it writes).' },
      ),
    ),
  },
  {
    description: 'A certificate to watch.',
    validations: [
      {
        rule: 'has(self.secretRef) != has(self.certificateRef)',
        message: 'set exactly one of secretRef or certificateRef',
      },
    ],
  },
);

const Endpoint = Obj(
  {
    host: Str({
      description: 'Host name or IP address to connect to.',
      pattern: '^[A-Za-z0-9.:-]+$',
      minLength: 1,
      maxLength: 253,
    }),
    port: Optional(Int({ description: 'TLS port.', minimum: 1, maximum: 65535, default: 443 })),
    serverName: Optional(
      Str({ description: 'SNI server name; host when unset.', pattern: DNS_SUBDOMAIN_PATTERN, maxLength: 253 }),
    ),
  },
  { description: 'An endpoint that must serve the current certificate.' },
);

const Workload = Obj(
  {
    kind: Enum(['Deployment', 'StatefulSet', 'DaemonSet'] as const, { description: 'Kind of the workload.' }),
    name: ObjectName('Name of the workload, in this namespace.'),
  },
  { description: 'A workload to restart after renewal so it loads the new certificate.' },
);

export const CertRenewalSpec = Obj(
  {
    targets: Arr(Target, { description: 'Certificates to watch.', minItems: 1, maxItems: 50 }),
    endpoints: Optional(Arr(Endpoint, { description: 'Endpoints probed after renewal.', maxItems: 50 })),
    renewBefore: Optional(
      Duration({
        description:
          'Renew this long before expiry, e.g. "720h". Defaults to 720h unless renewBeforePercentage is set.',
      }),
    ),
    renewBeforePercentage: Optional(
      Int({
        description: 'Renew when this percentage of the lifetime remains (instead of renewBefore).',
        minimum: 1,
        maximum: 99,
      }),
    ),
    warnBefore: Optional(
      Duration({ description: 'Report ExpiringSoon (and a Warning Event) this long before expiry.', default: '168h' }),
    ),
    method: Optional(
      Enum(['CertManager', 'AlertOnly'] as const, {
        description: 'CertManager: trigger renewal of cert-manager Certificates. AlertOnly: only report and alert.',
        default: 'CertManager',
      }),
    ),
    reloadWorkloads: Optional(Arr(Workload, { description: 'Workloads to restart after a renewal.', maxItems: 20 })),
  },
  {
    description: 'Desired state of the certificate renewal.',
    validations: [
      {
        rule: '!(has(self.renewBefore) && has(self.renewBeforePercentage))',
        message: 'set renewBefore or renewBeforePercentage, not both',
      },
      {
        rule: "self.method != 'CertManager' || self.targets.all(t, has(t.certificateRef))",
        message:
          'method CertManager renews cert-manager Certificates: every target needs certificateRef (use AlertOnly for plain Secrets)',
        fieldPath: '.targets',
      },
    ],
  },
);

const DateTime = (description: string) => Optional(Str({ description, format: 'date-time' }));

const CertificateStatus = Obj(
  {
    name: Str({
      description: 'The target: the Secret (secretRef) or Certificate (certificateRef) name.',
      maxLength: 253,
    }),
    source: Enum(['cert-manager', 'secret'] as const, {
      description: 'cert-manager: a Certificate and the Secret it writes; secret: a kubernetes.io/tls Secret.',
    }),
    secretName: Optional(Str({ description: 'The Secret holding the certificate.', maxLength: 253 })),
    serial: Optional(Str({ description: 'Serial number of the leaf certificate (upper-case hex).', maxLength: 64 })),
    notBefore: DateTime('Start of the leaf certificate validity.'),
    notAfter: DateTime('End of the leaf certificate validity.'),
    renewalTime: DateTime("When the certificate is renewed (cert-manager's rule, moved earlier by jitter)."),
    daysRemaining: Optional(Int({ description: 'Whole days until notAfter (negative once expired).' })),
    servedSerialMatches: Optional(
      Bool({ description: 'Every endpoint serving this certificate presents the Secret serial (unset: not probed).' }),
    ),
    failedAttempts: Int({ description: 'Failed issuance attempts reported by cert-manager.', minimum: 0 }),
    revision: Optional(Int({ description: 'The Certificate status.revision (cert-manager).', minimum: 0 })),
    renewalsTriggered: Optional(
      Int({ description: 'Renewals this controller triggered for the certificate (cmctl renew).', minimum: 0 }),
    ),
    problems: Optional(
      Arr(Str({ description: 'A problem found, without key material.', maxLength: 1024 }), {
        description: 'Problems found with the certificate (at most 5).',
        maxItems: 5,
      }),
    ),
  },
  { description: 'What is known about one certificate.' },
);

const EndpointStatus = Obj(
  {
    endpoint: Str({ description: 'host:port as probed.', maxLength: 300 }),
    certificate: Optional(Str({ description: 'The target this endpoint is compared with.', maxLength: 253 })),
    serial: Optional(Str({ description: 'Serial number of the served leaf certificate.', maxLength: 64 })),
    error: Optional(Str({ description: 'Why the probe failed.', maxLength: 1024 })),
    probeTime: DateTime('When the endpoint was last probed.'),
  },
  { description: 'What an endpoint served at the last probe.' },
);

export const CertRenewalStatus = Obj(
  {
    ...commonStatus,
    nextRenewalTime: Optional(Str({ description: 'When the next renewal is due.', format: 'date-time' })),
    certificates: Optional(
      Arr(CertificateStatus, { description: 'One entry per target, in spec order.', maxItems: 50 }),
    ),
    endpoints: Optional(Arr(EndpointStatus, { description: 'The endpoint probes, in spec order.', maxItems: 50 })),
    reloadedForSerials: Optional(
      Str({
        description: 'The certificate serials (name=serial, comma-separated) the reloadWorkloads were restarted for.',
        maxLength: 4096,
      }),
    ),
    lastReloadTime: DateTime('When reloadWorkloads were last restarted.'),
  },
  { description: 'Observed state of the certificate renewal.' },
);

export type CertRenewalSpec = Static<typeof CertRenewalSpec>;
export type CertRenewalStatus = Static<typeof CertRenewalStatus>;
