// The local cluster's PKI, made with the openssl CLI: one CA, the API server's serving certificate, an admin client
// certificate (O=system:masters) and the service-account signing key pair. Written once per cluster directory.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ClusterError } from './proc.js';

export interface Pki {
  dir: string;
  caCert: string;
  caKey: string;
  apiserverCert: string;
  apiserverKey: string;
  adminCert: string;
  adminKey: string;
  saKey: string;
  saPub: string;
}

function openssl(args: string[], cwd: string): void {
  try {
    execFileSync('openssl', args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    const e = err as { code?: string; stderr?: Buffer; message: string };
    if (e.code === 'ENOENT') throw new ClusterError('openssl is not installed (Debian: apt-get install openssl)');
    throw new ClusterError(`openssl ${args[0]} failed: ${e.stderr?.toString().trim() || e.message}`);
  }
}

export function pkiPaths(dir: string): Pki {
  return {
    dir,
    caCert: join(dir, 'ca.crt'),
    caKey: join(dir, 'ca.key'),
    apiserverCert: join(dir, 'apiserver.crt'),
    apiserverKey: join(dir, 'apiserver.key'),
    adminCert: join(dir, 'admin.crt'),
    adminKey: join(dir, 'admin.key'),
    saKey: join(dir, 'sa.key'),
    saPub: join(dir, 'sa.pub'),
  };
}

/** Creates the PKI unless a complete one exists; the serving cert is re-issued when the advertise address changed. */
export function ensurePki(dir: string, advertiseAddress: string): Pki {
  const p = pkiPaths(dir);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  if (!existsSync(p.caCert) || !existsSync(p.caKey)) {
    openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', 'ca.key'], dir);
    openssl(
      [
        'req',
        '-x509',
        '-new',
        '-key',
        'ca.key',
        '-sha256',
        '-days',
        '3650',
        '-subj',
        '/CN=smartcloudops-local-ca',
        '-out',
        'ca.crt',
      ],
      dir,
    );
  }
  const sansFile = join(dir, 'apiserver.sans');
  const sans = [
    'DNS:localhost',
    'DNS:kubernetes',
    'DNS:kubernetes.default',
    'DNS:kubernetes.default.svc',
    'DNS:kubernetes.default.svc.cluster.local',
    'IP:127.0.0.1',
    'IP:10.96.0.1',
    `IP:${advertiseAddress}`,
  ].join(',');
  const previous = existsSync(sansFile) ? readFileSync(sansFile, 'utf8') : '';
  if (!existsSync(p.apiserverCert) || previous !== sans) {
    issue(dir, 'apiserver', '/CN=kube-apiserver', `subjectAltName=${sans}\nextendedKeyUsage=serverAuth\n`);
    writeFileSync(sansFile, sans);
  }
  if (!existsSync(p.adminCert)) {
    issue(dir, 'admin', '/O=system:masters/CN=smartcloudops-admin', 'extendedKeyUsage=clientAuth\n');
  }
  if (!existsSync(p.saKey) || !existsSync(p.saPub)) {
    openssl(['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', 'sa.key'], dir);
    openssl(['pkey', '-in', 'sa.key', '-pubout', '-out', 'sa.pub'], dir);
  }
  return p;
}

function issue(dir: string, name: string, subject: string, ext: string): void {
  writeFileSync(
    join(dir, `${name}.ext`),
    `basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\n${ext}`,
  );
  openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', `${name}.key`], dir);
  openssl(['req', '-new', '-key', `${name}.key`, '-subj', subject, '-out', `${name}.csr`], dir);
  openssl(
    [
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      'ca.crt',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-days',
      '3650',
      '-sha256',
      '-extfile',
      `${name}.ext`,
      '-out',
      `${name}.crt`,
    ],
    dir,
  );
}

export function kubeconfigYaml(p: Pki, server: string, user = 'smartcloudops-admin'): string {
  const b64 = (f: string) => readFileSync(f).toString('base64');
  return `apiVersion: v1
kind: Config
clusters:
- name: smartcloudops-local
  cluster:
    server: ${server}
    certificate-authority-data: ${b64(p.caCert)}
users:
- name: ${user}
  user:
    client-certificate-data: ${b64(p.adminCert)}
    client-key-data: ${b64(p.adminKey)}
contexts:
- name: smartcloudops-local
  context:
    cluster: smartcloudops-local
    user: ${user}
current-context: smartcloudops-local
`;
}
