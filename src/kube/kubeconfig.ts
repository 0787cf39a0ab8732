// Where credentials come from. The common cases are read directly — the in-cluster service account (with token
// rotation), and kubeconfig files with client certificates, bearer tokens, token files or basic auth — because
// importing @kubernetes/client-node costs about 85 MiB of resident memory (its generated API surface), more than the
// rest of the operator together. Kubeconfigs that need client-node's machinery (exec credential plugins,
// auth-provider, several merged files) are handed to it, loaded on demand.
import { existsSync, readFileSync } from 'node:fs';
import type https from 'node:https';
import os from 'node:os';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { parse } from 'yaml';

export interface Credentials {
  server: URL;
  agentOptions: https.AgentOptions;
  headers: Record<string, string>;
}

export interface CredentialSource {
  /** Read (again): tokens and certificate files may rotate. */
  load(): Promise<Credentials>;
  describe: string;
}

interface NamedCluster {
  name: string;
  cluster: {
    server: string;
    'certificate-authority'?: string;
    'certificate-authority-data'?: string;
    'insecure-skip-tls-verify'?: boolean;
    'tls-server-name'?: string;
    'proxy-url'?: string;
  };
}
interface NamedUser {
  name: string;
  user?: {
    'client-certificate'?: string;
    'client-certificate-data'?: string;
    'client-key'?: string;
    'client-key-data'?: string;
    token?: string;
    tokenFile?: string;
    username?: string;
    password?: string;
    exec?: unknown;
    'auth-provider'?: unknown;
  };
}
interface KubeconfigFile {
  clusters?: NamedCluster[];
  users?: NamedUser[];
  contexts?: { name: string; context: { cluster: string; user: string } }[];
  'current-context'?: string;
}

const SA_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

export async function credentialSource(
  opts: { kubeconfig?: string; context?: string } = {},
): Promise<CredentialSource> {
  const paths = opts.kubeconfig ? [opts.kubeconfig] : (process.env.KUBECONFIG ?? '').split(':').filter(Boolean);
  if (paths.length === 0) {
    if (process.env.KUBERNETES_SERVICE_HOST && existsSync(join(SA_DIR, 'token'))) return inCluster();
    paths.push(join(os.homedir(), '.kube', 'config'));
  }
  if (paths.length > 1) return viaClientNode(opts);
  const file = resolve(paths[0] as string);
  if (!existsSync(file)) throw new Error(`kubeconfig ${file} does not exist`);
  let cfg: KubeconfigFile;
  try {
    cfg = parse(readFileSync(file, 'utf8')) as KubeconfigFile;
  } catch (err) {
    throw new Error(`kubeconfig ${file} is not valid YAML: ${(err as Error).message}`, { cause: err });
  }
  const ctxName = opts.context ?? cfg['current-context'];
  const ctx = cfg.contexts?.find((c) => c.name === ctxName)?.context;
  if (!ctx) throw new Error(`kubeconfig ${file}: no context "${ctxName ?? ''}"`);
  const cluster = cfg.clusters?.find((c) => c.name === ctx.cluster)?.cluster;
  if (!cluster?.server)
    throw new Error(`kubeconfig ${file}: context "${ctxName}" names cluster "${ctx.cluster}", which has no server`);
  const user = cfg.users?.find((u) => u.name === ctx.user)?.user ?? {};
  if (user.exec || user['auth-provider'] || cluster['proxy-url']) return viaClientNode(opts);
  const base = dirname(file);
  const fileOrData = (path: string | undefined, data: string | undefined): Buffer | undefined => {
    if (data) return Buffer.from(data, 'base64');
    if (path) return readFileSync(isAbsolute(path) ? path : join(base, path));
    return undefined;
  };
  return {
    describe: `kubeconfig ${file} (context ${ctxName})`,
    async load() {
      const headers: Record<string, string> = {};
      const token = user.tokenFile ? readFileSync(resolve(base, user.tokenFile), 'utf8').trim() : user.token;
      if (token) headers.authorization = `Bearer ${token}`;
      else if (user.username) {
        headers.authorization = `Basic ${Buffer.from(`${user.username}:${user.password ?? ''}`).toString('base64')}`;
      }
      return {
        server: new URL(cluster.server),
        headers,
        agentOptions: {
          ca: fileOrData(cluster['certificate-authority'], cluster['certificate-authority-data']),
          cert: fileOrData(user['client-certificate'], user['client-certificate-data']),
          key: fileOrData(user['client-key'], user['client-key-data']),
          rejectUnauthorized: !cluster['insecure-skip-tls-verify'],
          servername: cluster['tls-server-name'],
        },
      };
    },
  };
}

function inCluster(): CredentialSource {
  const host = process.env.KUBERNETES_SERVICE_HOST as string;
  const port = process.env.KUBERNETES_SERVICE_PORT ?? '443';
  const server = new URL(`https://${host.includes(':') ? `[${host}]` : host}:${port}`);
  return {
    describe: 'in-cluster service account',
    async load() {
      return {
        server,
        headers: { authorization: `Bearer ${readFileSync(join(SA_DIR, 'token'), 'utf8').trim()}` },
        agentOptions: { ca: readFileSync(join(SA_DIR, 'ca.crt')), rejectUnauthorized: true },
      };
    },
  };
}

async function viaClientNode(opts: { kubeconfig?: string; context?: string }): Promise<CredentialSource> {
  const { KubeConfig } = await import('@kubernetes/client-node');
  const kc = new KubeConfig();
  if (opts.kubeconfig) kc.loadFromFile(opts.kubeconfig);
  else kc.loadFromDefault();
  if (opts.context) kc.setCurrentContext(opts.context);
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error(`no cluster in the kubeconfig (context "${kc.getCurrentContext()}")`);
  return {
    describe: `kubeconfig via @kubernetes/client-node (context ${kc.getCurrentContext()})`,
    async load() {
      const o: https.RequestOptions & { headers?: Record<string, string> } = { headers: {} };
      await kc.applyToHTTPSOptions(o);
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(o.headers ?? {})) if (typeof v === 'string') headers[k.toLowerCase()] = v;
      if (o.auth) headers.authorization = `Basic ${Buffer.from(o.auth).toString('base64')}`;
      return {
        server: new URL(cluster.server),
        headers,
        agentOptions: {
          ca: o.ca,
          cert: o.cert,
          key: o.key,
          rejectUnauthorized: cluster.skipTLSVerify ? false : (o.rejectUnauthorized ?? true),
          servername: cluster.tlsServerName,
        },
      };
    },
  };
}
