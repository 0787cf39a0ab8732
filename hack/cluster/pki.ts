// The local cluster's PKI, made with the openssl CLI: one CA, the API server's serving certificate, an admin client
// certificate (O=system:masters), the API server's client certificates for kubelets and for aggregated APIs
// (front-proxy), and the service-account signing key pair. The real node adds its own (ensureNodePki): the kubelet's
// client certificate (system:node:<name> in system:nodes, as the Node authorizer expects) and serving certificate,
// kube-proxy's (system:kube-proxy, bound to system:node-proxier by default RBAC) and metrics-server's serving
// certificate. Written once per cluster directory.
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
  kubeletClientCert: string;
  kubeletClientKey: string;
  frontProxyCert: string;
  frontProxyKey: string;
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
    kubeletClientCert: join(dir, 'apiserver-kubelet-client.crt'),
    kubeletClientKey: join(dir, 'apiserver-kubelet-client.key'),
    frontProxyCert: join(dir, 'front-proxy-client.crt'),
    frontProxyKey: join(dir, 'front-proxy-client.key'),
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
  if (!existsSync(p.kubeletClientCert)) {
    issue(
      dir,
      'apiserver-kubelet-client',
      '/O=system:masters/CN=kube-apiserver-kubelet-client',
      'extendedKeyUsage=clientAuth\n',
    );
  }
  if (!existsSync(p.frontProxyCert)) {
    issue(dir, 'front-proxy-client', '/CN=front-proxy-client', 'extendedKeyUsage=clientAuth\n');
  }
  if (!existsSync(p.saKey) || !existsSync(p.saPub)) {
    openssl(['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', 'sa.key'], dir);
    openssl(['pkey', '-in', 'sa.key', '-pubout', '-out', 'sa.pub'], dir);
  }
  return p;
}

export interface NodePki {
  kubeletCert: string;
  kubeletKey: string;
  kubeletServingCert: string;
  kubeletServingKey: string;
  kubeProxyCert: string;
  kubeProxyKey: string;
  metricsServerCert: string;
  metricsServerKey: string;
}

/** The real node's certificates, issued by the cluster CA; re-issued when the node name or IP changed. */
export function ensureNodePki(dir: string, caDir: string, nodeName: string, nodeIp: string): NodePki {
  const f = (n: string) => ({ crt: join(dir, `${n}.crt`), key: join(dir, `${n}.key`) });
  const stamp = join(dir, 'node.id');
  const id = `${nodeName} ${nodeIp}`;
  const fresh = !existsSync(stamp) || readFileSync(stamp, 'utf8') !== id;
  const want = (n: string) => fresh || !existsSync(f(n).crt);
  if (want('kubelet')) {
    issue(dir, 'kubelet', `/O=system:nodes/CN=system:node:${nodeName}`, 'extendedKeyUsage=clientAuth\n', caDir);
  }
  if (want('kubelet-serving')) {
    issue(
      dir,
      'kubelet-serving',
      `/CN=${nodeName}`,
      `subjectAltName=DNS:${nodeName},IP:${nodeIp}\nextendedKeyUsage=serverAuth\n`,
      caDir,
    );
  }
  if (want('kube-proxy')) issue(dir, 'kube-proxy', '/CN=system:kube-proxy', 'extendedKeyUsage=clientAuth\n', caDir);
  if (want('metrics-server')) {
    issue(
      dir,
      'metrics-server',
      '/CN=metrics-server',
      `subjectAltName=DNS:metrics-server.kube-system.svc,DNS:metrics-server.kube-system.svc.cluster.local,IP:${nodeIp}\nextendedKeyUsage=serverAuth\n`,
      caDir,
    );
  }
  writeFileSync(stamp, id);
  return {
    kubeletCert: f('kubelet').crt,
    kubeletKey: f('kubelet').key,
    kubeletServingCert: f('kubelet-serving').crt,
    kubeletServingKey: f('kubelet-serving').key,
    kubeProxyCert: f('kube-proxy').crt,
    kubeProxyKey: f('kube-proxy').key,
    metricsServerCert: f('metrics-server').crt,
    metricsServerKey: f('metrics-server').key,
  };
}

function issue(dir: string, name: string, subject: string, ext: string, caDir = dir): void {
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
      join(caDir, 'ca.crt'),
      '-CAkey',
      join(caDir, 'ca.key'),
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

export function kubeconfigYaml(
  p: Pki,
  server: string,
  user = 'smartcloudops-admin',
  cert = p.adminCert,
  key = p.adminKey,
): string {
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
    client-certificate-data: ${b64(cert)}
    client-key-data: ${b64(key)}
contexts:
- name: smartcloudops-local
  context:
    cluster: smartcloudops-local
    user: ${user}
current-context: smartcloudops-local
`;
}
