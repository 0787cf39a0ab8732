// Test certificates generated at test time with the openssl CLI (OpenSSL 3.0 has no -not_before/-not_after on
// `req`/`x509`, so `openssl ca` signs with explicit -startdate/-enddate, which also allows expired and not yet valid
// certificates). Everything is written into a temporary directory that cleanup() removes.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { installCertManagerCrds, resolveCertManager, startCertManager } from '../../hack/cluster/certmanager.js';
import { readState, recordProcess } from '../../hack/cluster/cluster.js';
import { layout, repoRoot, resolvePorts } from '../../hack/cluster/config.js';
import { isOurs, stopProcess, type ProcRecord } from '../../hack/cluster/proc.js';
import { kubectlPath } from './crds.js';
import { kubeconfigPath } from './env.js';
import { freePort } from './operator.js';

export interface Issued {
  certPem: string;
  keyPem: string;
  /** As `openssl x509 -serial` prints it (upper-case hex). */
  serial: string;
  certPath: string;
  keyPath: string;
}

export interface IssueOptions {
  cn: string;
  /** subjectAltName entries, e.g. ['DNS:a.test', 'IP:127.0.0.1']. */
  sans?: string[];
  notBefore: Date;
  notAfter: Date;
  /** Signed by this CA; self-signed when unset. */
  issuer?: Issued;
  isCA?: boolean;
  /** Reuse this key (PEM path) instead of generating one. */
  keyPath?: string;
}

const CA_CONFIG = `[ca]
default_ca = ca_default
[ca_default]
database = ./index.txt
new_certs_dir = ./issued
rand_serial = yes
default_md = sha256
policy = policy_any
unique_subject = no
email_in_dn = no
[policy_any]
commonName = optional
organizationName = optional
`;

/** openssl ca wants GeneralizedTime YYYYMMDDHHMMSSZ. */
function asn1Time(d: Date): string {
  return d
    .toISOString()
    .replace(/[-:T]/g, '')
    .replace(/\.\d{3}Z$/, 'Z');
}

export class CertFactory {
  private n = 0;
  private constructor(readonly dir: string) {}

  static create(): CertFactory {
    const dir = mkdtempSync(join(tmpdir(), 'sco-certs-'));
    writeFileSync(join(dir, 'ca.cnf'), CA_CONFIG);
    writeFileSync(join(dir, 'index.txt'), '');
    mkdirSync(join(dir, 'issued'));
    return new CertFactory(dir);
  }

  private openssl(args: string[]): string {
    return execFileSync('openssl', args, { cwd: this.dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  }

  /** A new P-256 key; returns its path. */
  newKey(): string {
    const path = join(this.dir, `k${++this.n}.pem`);
    this.openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', path]);
    return path;
  }

  issue(o: IssueOptions): Issued {
    const i = ++this.n;
    const keyPath = o.keyPath ?? this.newKey();
    const csr = join(this.dir, `r${i}.csr`);
    const ext = join(this.dir, `e${i}.ext`);
    const certPath = join(this.dir, `c${i}.pem`);
    this.openssl(['req', '-new', '-key', keyPath, '-subj', `/CN=${o.cn}`, '-out', csr]);
    const lines = o.isCA
      ? ['basicConstraints=critical,CA:TRUE', 'keyUsage=critical,keyCertSign,cRLSign', 'subjectKeyIdentifier=hash']
      : ['basicConstraints=CA:FALSE', 'keyUsage=critical,digitalSignature', 'extendedKeyUsage=serverAuth'];
    if (o.sans && o.sans.length > 0) lines.push(`subjectAltName=${o.sans.join(',')}`);
    writeFileSync(ext, lines.join('\n') + '\n');
    const signer = o.issuer
      ? ['-cert', o.issuer.certPath, '-keyfile', o.issuer.keyPath]
      : ['-selfsign', '-keyfile', keyPath];
    this.openssl([
      'ca',
      '-batch',
      '-config',
      'ca.cnf',
      ...signer,
      '-in',
      csr,
      '-out',
      certPath,
      '-startdate',
      asn1Time(o.notBefore),
      '-enddate',
      asn1Time(o.notAfter),
      '-extfile',
      ext,
      '-notext',
    ]);
    const serial = this.openssl(['x509', '-in', certPath, '-noout', '-serial'])
      .trim()
      .replace(/^serial=/, '');
    return {
      certPem: readFileSync(certPath, 'utf8'),
      keyPem: readFileSync(keyPath, 'utf8'),
      serial,
      certPath,
      keyPath,
    };
  }

  cleanup(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** A kubernetes.io/tls Secret as the API returns it. */
export function tlsSecret(
  certPem: string,
  keyPem: string,
  caPem?: string,
): { type: string; data: Record<string, string> } {
  const b64 = (s: string): string => Buffer.from(s).toString('base64');
  return {
    type: 'kubernetes.io/tls',
    data: { 'tls.crt': b64(certPem), 'tls.key': b64(keyPem), ...(caPem !== undefined ? { 'ca.crt': b64(caPem) } : {}) },
  };
}

/**
 * The cert-manager controller the e2e tests use: the cluster's own when the cluster tooling runs one (group
 * `certmanager`, recorded in the cluster state), otherwise one started here from the local build (CRDs installed,
 * leader election off, metrics on SCO_PORT_CERT_MANAGER or a free port) and stopped by `stop()`.
 * SCO_CERT_MANAGER_EXTERNAL=1: a cert-manager installed otherwise (kind); it cannot be paused.
 */
export class CertManager {
  private constructor(
    private rec: ProcRecord | undefined,
    readonly owned: boolean,
    private readonly start: (() => Promise<ProcRecord>) | undefined,
  ) {}

  static async ensure(): Promise<CertManager> {
    if (process.env.SCO_CERT_MANAGER_EXTERNAL === '1') return new CertManager(undefined, false, undefined);
    const l = layout();
    const state = readState(l);
    const running = state?.procs.find((p) => p.name === 'cert-manager' && isOurs(p));
    const build = resolveCertManager({ build: false });
    if (running && state) {
      const start = () =>
        startCertManager({
          controller: build.controller,
          kubeconfig: kubeconfigPath(),
          metricsPort: state.ports.certManager,
          log: join(l.logs, 'cert-manager.log'),
        }).then((rec) => {
          recordProcess(rec, 'certmanager');
          return rec;
        });
      return new CertManager(running, false, start);
    }
    installCertManagerCrds(kubectlPath(), kubeconfigPath(), build.crds);
    const metricsPort = process.env.SCO_PORT_CERT_MANAGER ? resolvePorts().certManager : await freePort();
    const logs = join(repoRoot, '.test-results', 'cert-manager');
    mkdirSync(logs, { recursive: true });
    const start = () =>
      startCertManager({
        controller: build.controller,
        kubeconfig: kubeconfigPath(),
        metricsPort,
        log: join(logs, `cert-manager-${metricsPort}.log`),
      });
    return new CertManager(await start(), true, start);
  }

  get canPause(): boolean {
    return this.start !== undefined;
  }

  /** Stops the controller (nothing reconciles cert-manager objects until resume). */
  async pause(): Promise<void> {
    if (!this.start) throw new Error('an external cert-manager cannot be paused');
    if (this.rec) await stopProcess(this.rec);
    this.rec = undefined;
  }

  async resume(): Promise<void> {
    if (!this.start || this.rec) return;
    this.rec = await this.start();
  }

  /** Stops the controller if this test started it (a paused cluster one is started again). */
  async stop(): Promise<void> {
    if (this.owned) {
      if (this.rec) await stopProcess(this.rec);
      this.rec = undefined;
    } else {
      await this.resume();
    }
  }
}
