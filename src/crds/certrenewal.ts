// CertRenewal: tracks TLS expiry, triggers renewal, proves that endpoints serve the new certificate.
import {
  Arr,
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

export const CertRenewalStatus = Obj(
  {
    ...commonStatus,
    nextRenewalTime: Optional(Str({ description: 'When the next renewal is due.', format: 'date-time' })),
  },
  { description: 'Observed state of the certificate renewal.' },
);

export type CertRenewalSpec = Static<typeof CertRenewalSpec>;
export type CertRenewalStatus = Static<typeof CertRenewalStatus>;
