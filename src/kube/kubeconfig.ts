// Where credentials come from, read as kubectl (client-go's clientcmd) reads them.
//
// Loading rules (clientcmd/loader.go):
// - `--kubeconfig` / $KUBECONFIG may list several files separated by ':' (path.delimiter). Files that do not exist
//   are skipped when several are listed; a single file must exist. With none, the in-cluster service account is used
//   when the process runs in a pod, else ~/.kube/config.
// - Merge: for the named maps (clusters, users, contexts) the first file that defines a name wins; `current-context`
//   comes from the first file that sets it (clientcmd's "first file to set a particular map key wins").
// - Relative paths (certificate-authority, client-certificate, client-key, tokenFile, and an exec command that
//   contains a '/') are resolved against the directory of the file that defined them (ResolveLocalPaths).
// - `--context` (KUBE_CONTEXT) overrides current-context.
// - Validation as clientcmd/validation.go: one authentication method per user (token or basic auth), exec and
//   auth-provider not together, a CA file with insecure-skip-tls-verify is refused, booleans must be YAML booleans
//   (`insecure-skip-tls-verify: "false"` is a string and refused, naming the field), a bad server URL names it.
// - proxy-url (http:// or https://, verified with the cluster CA) is honoured: requests are tunnelled through the
//   proxy with HTTP CONNECT; other schemes (socks5) are refused with an error naming the field. $HTTPS_PROXY is not
//   read.
// - Impersonation (`as`, `as-uid`, `as-groups`, `as-user-extra`) is refused: the operator acts as its own identity.
//
// What is native and what goes through @kubernetes/client-node: everything is native — in-cluster service account
// (token re-read, so projected tokens rotate), client certificates, bearer tokens, token files, basic auth, and exec
// credential plugins (client.authentication.k8s.io/v1 and v1beta1 ExecCredential, cached until expirationTimestamp or
// a 401, as client-go's exec authenticator does) — except the legacy `auth-provider` (gcp, azure, oidc), for which
// client-node is imported on demand and asked for the Authorization header only. Importing client-node costs about
// 85 MiB of resident memory (its generated API surface), more than the rest of the operator together, so the common
// shapes must never load it.
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import type https from 'node:https';
import os from 'node:os';
import { delimiter, dirname, isAbsolute, join, resolve, sep } from 'node:path';
// Type only (erased): the module itself is imported on demand below.
import type { KubeConfig } from '@kubernetes/client-node';
import { parse } from 'yaml';

export interface Credentials {
  server: URL;
  agentOptions: https.AgentOptions;
  headers: Record<string, string>;
  /** HTTP(S) proxy to tunnel through with CONNECT (the cluster's proxy-url). */
  proxy?: URL;
}

export interface CredentialSource {
  /**
   * Reads (again): tokens and certificate files may rotate. `force` drops cached credentials (an exec plugin's
   * token) — used after the API server answered 401.
   */
  load(o?: { force?: boolean }): Promise<Credentials>;
  describe: string;
}

export interface CredentialOptions {
  /** One path or several separated by ':'; defaults to $KUBECONFIG. */
  kubeconfig?: string;
  /** Context to use instead of current-context. */
  context?: string;
  env?: NodeJS.ProcessEnv;
}

type Raw = Record<string, unknown>;

export interface ExecConfig {
  apiVersion: string;
  command: string;
  args?: string[];
  env?: { name: string; value: string }[];
  installHint?: string;
  interactiveMode?: string;
  provideClusterInfo?: boolean;
}

export interface ClusterEntry {
  server: string;
  'certificate-authority'?: string;
  'certificate-authority-data'?: string;
  'insecure-skip-tls-verify'?: boolean;
  'tls-server-name'?: string;
  'proxy-url'?: string;
}

export interface UserEntry {
  'client-certificate'?: string;
  'client-certificate-data'?: string;
  'client-key'?: string;
  'client-key-data'?: string;
  token?: string;
  tokenFile?: string;
  username?: string;
  password?: string;
  exec?: ExecConfig;
  'auth-provider'?: { name: string; config?: Record<string, string> };
  as?: string;
  'as-uid'?: string;
  'as-groups'?: string[];
  'as-user-extra'?: Record<string, string[]>;
}

/** An entry with the file that defined it (for messages and relative paths). */
interface Defined<T> {
  value: T;
  file: string;
}

export interface MergedKubeconfig {
  clusters: Map<string, Defined<ClusterEntry>>;
  users: Map<string, Defined<UserEntry>>;
  contexts: Map<string, Defined<{ cluster: string; user: string; namespace?: string }>>;
  currentContext?: { name: string; file: string };
  files: string[];
}

export interface SelectedConfig {
  context: string;
  clusterName: string;
  userName: string;
  cluster: Defined<ClusterEntry>;
  user: Defined<UserEntry>;
}

const SA_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

export async function credentialSource(opts: CredentialOptions = {}): Promise<CredentialSource> {
  const env = opts.env ?? process.env;
  const paths = (opts.kubeconfig ?? env.KUBECONFIG ?? '').split(delimiter).filter(Boolean);
  if (paths.length === 0) {
    if (env.KUBERNETES_SERVICE_HOST && existsSync(join(SA_DIR, 'token'))) {
      if (opts.context) throw new Error(`--context "${opts.context}" was given, but there is no kubeconfig`);
      return inCluster(env);
    }
    paths.push(join(os.homedir(), '.kube', 'config'));
  }
  const merged = loadKubeconfigs(paths);
  return sourceFor(selectContext(merged, opts.context));
}

/** Reads and merges kubeconfig files as kubectl does (see the header). */
export function loadKubeconfigs(paths: string[]): MergedKubeconfig {
  const files = paths.map((p) => resolve(p));
  const existing = files.filter((f) => existsSync(f));
  if (files.length === 1 && existing.length === 0) throw new Error(`kubeconfig ${files[0]} does not exist`);
  if (existing.length === 0) throw new Error(`none of the kubeconfig files exist: ${files.join(', ')}`);
  const merged: MergedKubeconfig = { clusters: new Map(), users: new Map(), contexts: new Map(), files: existing };
  for (const file of [...new Set(existing)]) {
    let doc: unknown;
    try {
      doc = parse(readFileSync(file, 'utf8'));
    } catch (err) {
      throw new Error(`kubeconfig ${file} is not valid YAML: ${(err as Error).message}`, { cause: err });
    }
    if (doc === null || doc === undefined) continue; // an empty file is allowed, as by kubectl
    if (typeof doc !== 'object' || Array.isArray(doc)) throw new Error(`kubeconfig ${file}: not a kubeconfig object`);
    const cfg = doc as Raw;
    const base = dirname(file);
    for (const [name, raw] of namedList(cfg, 'clusters', 'cluster', file)) {
      if (!merged.clusters.has(name)) merged.clusters.set(name, { value: readCluster(raw, name, file, base), file });
    }
    for (const [name, raw] of namedList(cfg, 'users', 'user', file)) {
      if (!merged.users.has(name)) merged.users.set(name, { value: readUser(raw, name, file, base), file });
    }
    for (const [name, raw] of namedList(cfg, 'contexts', 'context', file)) {
      if (merged.contexts.has(name)) continue;
      const cluster = str(raw, 'cluster', `context "${name}"`, file) ?? '';
      const user = str(raw, 'user', `context "${name}"`, file) ?? '';
      const namespace = str(raw, 'namespace', `context "${name}"`, file);
      merged.contexts.set(name, { value: { cluster, user, namespace }, file });
    }
    const current = cfg['current-context'];
    if (current !== undefined && typeof current !== 'string')
      throw new Error(`kubeconfig ${file}: current-context must be a string`);
    if (current && !merged.currentContext) merged.currentContext = { name: current, file };
  }
  return merged;
}

/** The context to use (`--context`, else current-context) with its cluster and user. */
export function selectContext(merged: MergedKubeconfig, override?: string): SelectedConfig {
  const where = merged.files.length === 1 ? `kubeconfig ${merged.files[0]}` : `kubeconfigs ${merged.files.join(':')}`;
  const name = override || merged.currentContext?.name;
  const known = [...merged.contexts.keys()].join(', ') || 'none';
  if (!name) throw new Error(`${where}: no current-context is set and no --context was given (contexts: ${known})`);
  const ctx = merged.contexts.get(name);
  if (!ctx) throw new Error(`${where}: no context "${name}" (contexts: ${known})`);
  const cluster = merged.clusters.get(ctx.value.cluster);
  if (!cluster)
    throw new Error(`${where}: context "${name}" names cluster "${ctx.value.cluster}", which is not defined`);
  if (!cluster.value.server) throw new Error(`${cluster.file}: cluster "${ctx.value.cluster}" has no server`);
  // A context without a user (or naming an undefined one) means anonymous, as in kubectl.
  const user = merged.users.get(ctx.value.user) ?? { value: {}, file: ctx.file };
  const u = user.value;
  const what = `${user.file}: user "${ctx.value.user}"`;
  const impersonation = (['as', 'as-uid', 'as-groups', 'as-user-extra'] as const).filter((k) => u[k] !== undefined);
  if (impersonation.length) {
    throw new Error(
      `${what} sets ${impersonation.join(', ')} (impersonation), which the operator does not support: ` +
        'it acts as its own identity. Use a kubeconfig without impersonation and grant that identity the RBAC it needs.',
    );
  }
  const methods = [...(u.token || u.tokenFile ? ['token'] : []), ...(u.username || u.password ? ['basic auth'] : [])];
  if (methods.length > 1) throw new Error(`${what}: more than one authentication method (${methods.join(', ')})`);
  if (u.exec && u['auth-provider']) throw new Error(`${what}: exec and auth-provider cannot be used together`);
  return { context: name, clusterName: ctx.value.cluster, userName: ctx.value.user, cluster, user };
}

function sourceFor(sel: SelectedConfig): CredentialSource {
  const c = sel.cluster.value;
  const u = sel.user.value;
  const where = `cluster "${sel.clusterName}" in ${sel.cluster.file}`;
  let server: URL;
  try {
    server = new URL(c.server);
  } catch {
    throw new Error(`${where}: server "${c.server}" is not a URL`);
  }
  if (server.protocol !== 'https:' && server.protocol !== 'http:')
    throw new Error(`${where}: server "${c.server}" must be an https:// (or http://) URL`);
  let proxy: URL | undefined;
  if (c['proxy-url']) {
    try {
      proxy = new URL(c['proxy-url']);
    } catch {
      throw new Error(`${where}: proxy-url "${redactUserinfo(c['proxy-url'])}" is not a URL`);
    }
    if (proxy.protocol !== 'http:' && proxy.protocol !== 'https:') {
      throw new Error(
        `${where}: proxy-url scheme "${proxy.protocol.replace(/:$/, '')}" is not supported (http:// and https:// proxies are)`,
      );
    }
  }
  const describe =
    `kubeconfig ${[...new Set([sel.cluster.file, sel.user.file])].join(', ')} (context ${sel.context}` +
    `${u.exec ? ', exec plugin' : u['auth-provider'] ? `, auth-provider ${u['auth-provider'].name}` : ''})`;
  const exec = u.exec ? new ExecAuthenticator(u.exec, sel.user.file, c) : undefined;
  const authProvider = u['auth-provider'] ? clientNodeAuthProvider(u['auth-provider'], c.server) : undefined;
  return {
    describe,
    async load(o = {}) {
      const headers: Record<string, string> = {};
      let cert = fileOrData(u['client-certificate'], u['client-certificate-data']);
      let key = fileOrData(u['client-key'], u['client-key-data']);
      if (exec) {
        const cred = await exec.get(o.force ?? false);
        if (cred.token) headers.authorization = `Bearer ${cred.token}`;
        if (cred.cert && cred.key) {
          cert = Buffer.from(cred.cert);
          key = Buffer.from(cred.key);
        }
      } else if (authProvider) {
        const token = await authProvider();
        if (token) headers.authorization = token;
      } else {
        // tokenFile is re-read on every load and wins over token (client-go's BearerTokenFile).
        const token = u.tokenFile ? readFileSync(u.tokenFile, 'utf8').trim() : u.token;
        if (token) headers.authorization = `Bearer ${token}`;
        else if (u.username || u.password) {
          headers.authorization = `Basic ${Buffer.from(`${u.username ?? ''}:${u.password ?? ''}`).toString('base64')}`;
        }
      }
      return {
        server,
        headers,
        proxy,
        agentOptions: {
          ca: fileOrData(c['certificate-authority'], c['certificate-authority-data']),
          cert,
          key,
          rejectUnauthorized: c['insecure-skip-tls-verify'] !== true,
          servername: c['tls-server-name'],
        },
      };
    },
  };
}

function fileOrData(path: string | undefined, data: string | undefined): Buffer | undefined {
  if (data) return Buffer.from(data, 'base64');
  if (path) return readFileSync(path);
  return undefined;
}

// ---- parsing with field-naming errors ------------------------------------------------------------------------------

function namedList(cfg: Raw, list: string, field: string, file: string): [string, Raw][] {
  const v = cfg[list];
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw new Error(`kubeconfig ${file}: ${list} must be a list`);
  return v.map((e: unknown, i) => {
    const entry = (e ?? {}) as Raw;
    const name = entry.name;
    if (typeof name !== 'string' || !name) throw new Error(`kubeconfig ${file}: ${list}[${i}] has no name`);
    const body = entry[field] ?? {};
    if (typeof body !== 'object' || Array.isArray(body))
      throw new Error(`kubeconfig ${file}: ${list}[${i}] (${name}).${field} must be a map`);
    return [name, body as Raw];
  });
}

function str(raw: Raw, key: string, what: string, file: string): string | undefined {
  const v = raw[key];
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v !== 'string') throw new Error(`kubeconfig ${file}: ${what}: ${key} must be a string`);
  return v;
}

function bool(raw: Raw, key: string, what: string, file: string): boolean | undefined {
  const v = raw[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'boolean') {
    throw new Error(
      `kubeconfig ${file}: ${what}: ${key} must be true or false (a YAML boolean), not the ${typeof v} ${JSON.stringify(v)}`,
    );
  }
  return v;
}

const abs = (base: string, p: string | undefined) => (p === undefined ? undefined : isAbsolute(p) ? p : join(base, p));

function readCluster(raw: Raw, name: string, file: string, base: string): ClusterEntry {
  const what = `cluster "${name}"`;
  const c: ClusterEntry = {
    server: str(raw, 'server', what, file) ?? '',
    'certificate-authority': abs(base, str(raw, 'certificate-authority', what, file)),
    'certificate-authority-data': str(raw, 'certificate-authority-data', what, file),
    'insecure-skip-tls-verify': bool(raw, 'insecure-skip-tls-verify', what, file),
    'tls-server-name': str(raw, 'tls-server-name', what, file),
    'proxy-url': str(raw, 'proxy-url', what, file),
  };
  if (c['insecure-skip-tls-verify'] && (c['certificate-authority'] || c['certificate-authority-data'])) {
    throw new Error(
      `kubeconfig ${file}: ${what}: insecure-skip-tls-verify cannot be combined with a certificate authority`,
    );
  }
  return c;
}

function readUser(raw: Raw, name: string, file: string, base: string): UserEntry {
  const what = `user "${name}"`;
  const u: UserEntry = {
    'client-certificate': abs(base, str(raw, 'client-certificate', what, file)),
    'client-certificate-data': str(raw, 'client-certificate-data', what, file),
    'client-key': abs(base, str(raw, 'client-key', what, file)),
    'client-key-data': str(raw, 'client-key-data', what, file),
    token: str(raw, 'token', what, file),
    tokenFile: abs(base, str(raw, 'tokenFile', what, file)),
    username: str(raw, 'username', what, file),
    password: str(raw, 'password', what, file),
    as: str(raw, 'as', what, file),
    'as-uid': str(raw, 'as-uid', what, file),
  };
  if (raw['as-groups'] !== undefined && raw['as-groups'] !== null) u['as-groups'] = raw['as-groups'] as string[];
  if (raw['as-user-extra'] !== undefined && raw['as-user-extra'] !== null)
    u['as-user-extra'] = raw['as-user-extra'] as Record<string, string[]>;
  const exec = raw.exec as Raw | undefined | null;
  if (exec) {
    const command = str(exec, 'command', `${what}: exec`, file);
    const apiVersion = str(exec, 'apiVersion', `${what}: exec`, file);
    if (!command) throw new Error(`kubeconfig ${file}: ${what}: exec.command is required`);
    if (!apiVersion) throw new Error(`kubeconfig ${file}: ${what}: exec.apiVersion is required`);
    if (!EXEC_API_VERSIONS.includes(apiVersion)) {
      throw new Error(
        `kubeconfig ${file}: ${what}: exec.apiVersion "${apiVersion}" is not supported (${EXEC_API_VERSIONS.join(', ')})`,
      );
    }
    const args = exec.args ?? [];
    if (!Array.isArray(args) || args.some((a) => typeof a !== 'string'))
      throw new Error(`kubeconfig ${file}: ${what}: exec.args must be a list of strings`);
    const envList = exec.env ?? [];
    if (!Array.isArray(envList)) throw new Error(`kubeconfig ${file}: ${what}: exec.env must be a list`);
    u.exec = {
      apiVersion,
      // A command with a path separator is relative to the kubeconfig's directory; a bare name is looked up in PATH.
      command: command.includes(sep) ? (abs(base, command) as string) : command,
      args: args as string[],
      env: (envList as Raw[]).map((e, i) => {
        if (typeof e?.name !== 'string' || typeof e.value !== 'string')
          throw new Error(`kubeconfig ${file}: ${what}: exec.env[${i}] needs a string name and value`);
        return { name: e.name, value: e.value };
      }),
      installHint: str(exec, 'installHint', `${what}: exec`, file),
      interactiveMode: str(exec, 'interactiveMode', `${what}: exec`, file),
      provideClusterInfo: bool(exec, 'provideClusterInfo', `${what}: exec`, file),
    };
  }
  const ap = raw['auth-provider'] as Raw | undefined | null;
  if (ap) {
    const apName = str(ap, 'name', `${what}: auth-provider`, file);
    if (!apName) throw new Error(`kubeconfig ${file}: ${what}: auth-provider.name is required`);
    u['auth-provider'] = { name: apName, config: (ap.config ?? {}) as Record<string, string> };
  }
  return u;
}

// ---- exec credential plugins (client-go plugin/pkg/client/auth/exec) ----------------------------------------------

const EXEC_API_VERSIONS = ['client.authentication.k8s.io/v1', 'client.authentication.k8s.io/v1beta1'];

interface ExecResult {
  token?: string;
  cert?: string;
  key?: string;
  /** ms since the epoch; undefined = valid until the server says 401. */
  expires?: number;
}

class ExecAuthenticator {
  private cached?: ExecResult;
  private running?: Promise<ExecResult>;

  constructor(
    private readonly cfg: ExecConfig,
    private readonly file: string,
    private readonly cluster: ClusterEntry,
  ) {
    if (cfg.interactiveMode === 'Always') {
      throw new Error(
        `kubeconfig ${file}: exec plugin ${cfg.command} needs interactiveMode Always (a terminal); the operator has none`,
      );
    }
  }

  async get(force: boolean): Promise<ExecResult> {
    // client-go refreshes a little before expiry; so do we (10 s).
    const fresh = this.cached && (this.cached.expires === undefined || this.cached.expires - 10_000 > Date.now());
    if (fresh && !force) return this.cached as ExecResult;
    this.running ??= this.run().finally(() => (this.running = undefined));
    this.cached = await this.running;
    return this.cached;
  }

  private run(): Promise<ExecResult> {
    const { cfg } = this;
    const info = {
      apiVersion: cfg.apiVersion,
      kind: 'ExecCredential',
      spec: {
        interactive: false,
        ...(cfg.provideClusterInfo ? { cluster: clusterInfo(this.cluster) } : {}),
      },
    };
    const env: NodeJS.ProcessEnv = { ...process.env, KUBERNETES_EXEC_INFO: JSON.stringify(info) };
    for (const e of cfg.env ?? []) env[e.name] = e.value;
    const what = `exec plugin ${cfg.command} (kubeconfig ${this.file})`;
    return new Promise((resolvePromise, reject) => {
      execFile(
        cfg.command,
        cfg.args ?? [],
        { env, timeout: 60_000, maxBuffer: 1 << 20, windowsHide: true },
        (err, stdout) => {
          if (err) {
            const notFound = (err as NodeJS.ErrnoException).code === 'ENOENT';
            // Never quote the plugin's output: it may hold a credential.
            const why = notFound ? 'not found' : `failed (${err.killed ? 'timed out' : `exit code ${err.code}`})`;
            reject(new Error(`${what} ${why}${cfg.installHint ? `; ${cfg.installHint}` : ''}`));
            return;
          }
          let out: { apiVersion?: string; kind?: string; status?: Raw };
          try {
            out = JSON.parse(stdout) as typeof out;
          } catch {
            return reject(new Error(`${what} printed something that is not JSON`));
          }
          if (out.kind !== 'ExecCredential' || out.apiVersion !== cfg.apiVersion) {
            return reject(new Error(`${what} printed kind/apiVersion other than ExecCredential ${cfg.apiVersion}`));
          }
          const s = out.status ?? {};
          const token = typeof s.token === 'string' && s.token ? s.token : undefined;
          const cert = typeof s.clientCertificateData === 'string' ? s.clientCertificateData : undefined;
          const key = typeof s.clientKeyData === 'string' ? s.clientKeyData : undefined;
          if (!token && !(cert && key))
            return reject(new Error(`${what} returned neither a token nor a client certificate and key`));
          if (Boolean(cert) !== Boolean(key))
            return reject(new Error(`${what} returned only one of clientCertificateData and clientKeyData`));
          const exp = typeof s.expirationTimestamp === 'string' ? Date.parse(s.expirationTimestamp) : undefined;
          resolvePromise({ token, cert, key, expires: Number.isFinite(exp) ? exp : undefined });
        },
      );
    });
  }
}

/** ExecCredential spec.cluster (client.authentication.k8s.io Cluster): what the plugin may need to know. */
function clusterInfo(c: ClusterEntry): Record<string, unknown> {
  const ca =
    c['certificate-authority-data'] ??
    (c['certificate-authority'] ? readFileSync(c['certificate-authority']).toString('base64') : undefined);
  return {
    server: c.server,
    ...(c['tls-server-name'] ? { 'tls-server-name': c['tls-server-name'] } : {}),
    ...(c['insecure-skip-tls-verify'] ? { 'insecure-skip-tls-verify': true } : {}),
    ...(ca ? { 'certificate-authority-data': ca } : {}),
    ...(c['proxy-url'] ? { 'proxy-url': c['proxy-url'] } : {}),
  };
}

// ---- auth-provider through @kubernetes/client-node (loaded only here) ---------------------------------------------

function clientNodeAuthProvider(
  provider: { name: string; config?: Record<string, string> },
  server: string,
): () => Promise<string | undefined> {
  let kc: KubeConfig | undefined;
  return async () => {
    if (!kc) {
      const clientNode = await import('@kubernetes/client-node');
      kc = new clientNode.KubeConfig();
      // client-node keeps refreshed tokens in this config object between calls.
      kc.loadFromClusterAndUser(
        { name: 'cluster', server, skipTLSVerify: false },
        { name: 'user', authProvider: { name: provider.name, config: { ...provider.config } } },
      );
    }
    const o: https.RequestOptions & { headers: Record<string, string> } = { headers: {} };
    await kc.applyToHTTPSOptions(o);
    const h = Object.entries(o.headers).find(([k]) => k.toLowerCase() === 'authorization');
    return typeof h?.[1] === 'string' ? h[1] : undefined;
  };
}

// ---- in-cluster service account (rest.InClusterConfig) ------------------------------------------------------------

function inCluster(env: NodeJS.ProcessEnv): CredentialSource {
  const host = env.KUBERNETES_SERVICE_HOST as string;
  const port = env.KUBERNETES_SERVICE_PORT ?? '443';
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

/** `scheme://user:pass@host` → `scheme://user:[REDACTED]@host`, for messages that quote a URL. */
function redactUserinfo(s: string): string {
  return s.replace(/(\/\/[^/@:\s]*):[^/@\s]*@/g, '$1:[REDACTED]@');
}
