// The project's Kubernetes client: JSON over HTTPS with a keep-alive agent, a client-side token-bucket rate limiter,
// Retry-After handling for 429/5xx, typed errors, server-side apply, paginated lists and streaming watches.
// Credentials come from a kubeconfig or the in-cluster service account (kubeconfig.ts). Credential handling follows
// client-go's rest/transport packages:
// - credentials are re-read once a minute (projected service-account tokens, token files, exec plugins rotate);
// - a 401 reloads them once (dropping an exec plugin's cached token) and retries that request once
//   (client-go's exec authenticator refreshes on 401; the request is retried by the caller there);
// - when credentials change, the old connection pools are closed: at once when the TLS material changed
//   (client-go's cert-rotation dialer closes every connection, watches included), otherwise gracefully (idle
//   sockets now, busy ones when their request ends) — a bearer token is a per-request header;
// - proxy-url: requests are tunnelled through an HTTP CONNECT proxy (transport's Proxy);
// - with insecure-skip-tls-verify a warning is logged once per client.
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import tls from 'node:tls';
import { setTimeout as sleep } from 'node:timers/promises';
import { KubeApiError, KubeTransportError, type ApiStatus } from './errors.js';
import { credentialSource, type CredentialOptions, type CredentialSource, type Credentials } from './kubeconfig.js';
import { TokenBucket } from './ratelimit.js';
import { apiVersionOf, resourcePath, type ResourceRef } from './resources.js';
import type { KubeList, KubeObject, WatchEvent } from './types.js';

/** The Kubernetes verb of a request, as the API server's audit log and metrics name it. */
export type KubeVerb = 'get' | 'list' | 'watch' | 'create' | 'update' | 'patch' | 'delete' | 'deletecollection';

export interface RequestObservation {
  method: string;
  verb: KubeVerb;
  /** HTTP status code, or '<error>' when no response arrived. */
  code: string;
  host: string;
  path: string;
  seconds: number;
}

export interface ClientObserver {
  request?(o: RequestObservation): void;
  rateLimited?(verb: KubeVerb, seconds: number): void;
}

export interface ClientOptions {
  userAgent?: string;
  /** Sustained requests per second (client-go default 5, controller-runtime 20). */
  qps?: number;
  burst?: number;
  /** Retries for responses that carry Retry-After (429, 503, 504); client-go uses 10. */
  maxRetries?: number;
  observer?: ClientObserver;
  /** Per-request timeout for non-watch requests. */
  timeoutMs?: number;
  /** Where the client warns (TLS verification off). */
  log?: ClientLog;
}

/** The part of a logger the client uses (pino's Logger fits). */
export interface ClientLog {
  warn(obj: object, msg: string): void;
}

export type PatchType = 'merge' | 'json' | 'strategic' | 'apply';
const PATCH_CONTENT_TYPE: Record<PatchType, string> = {
  merge: 'application/merge-patch+json',
  json: 'application/json-patch+json',
  strategic: 'application/strategic-merge-patch+json',
  apply: 'application/apply-patch+yaml',
};

export interface RequestOptions {
  query?: Record<string, string | number | boolean | undefined>;
  body?: unknown;
  contentType?: string;
  verb: KubeVerb;
  /** Do not decode a successful response (the caller does not need it): less garbage on hot write paths. */
  discardBody?: boolean;
  /** Aborts the request (and any Retry-After wait) when signalled, e.g. AbortSignal.timeout(ms). */
  signal?: AbortSignal;
}

export interface ListOptions {
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
  /** Page size; pages are fetched and merged until `continue` is empty. */
  limit?: number;
  resourceVersion?: string;
}

export interface WatchOptions {
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
  resourceVersion?: string;
  /** Server-side watch timeout; the stream then ends normally and the caller re-watches from its last RV. */
  timeoutSeconds?: number;
  allowWatchBookmarks?: boolean;
  /** Abort when no byte arrives for this long (half-open connections). Default: timeoutSeconds + 30s. */
  idleTimeoutMs?: number;
}

export interface WatchHandle {
  /** Resolves when the server ends the stream normally; rejects on errors (KubeApiError 410 when expired). */
  done: Promise<void>;
  stop(): void;
}

export interface ApplyOptions {
  fieldManager: string;
  force?: boolean;
  subresource?: 'status';
  dryRun?: boolean;
  /** Resolve with undefined instead of the applied object. */
  discardBody?: boolean;
}

export interface DeleteOptions {
  propagationPolicy?: 'Foreground' | 'Background' | 'Orphan';
  gracePeriodSeconds?: number;
  preconditions?: { uid?: string; resourceVersion?: string };
}

const RETRY_STATUS = new Set([429, 503, 504]);

export class KubeClient {
  readonly server: URL;
  private readonly source: CredentialSource;
  private creds: Credentials;
  private agent: http.Agent;
  private watchAgent: http.Agent;
  private readonly limiter: TokenBucket;
  private readonly opts: Required<Omit<ClientOptions, 'observer' | 'log'>> & {
    observer?: ClientObserver;
    log?: ClientLog;
  };
  private refreshedAt = Date.now();
  /** A watch got 401: the next request reloads with `force` (drops an exec plugin's cached token). */
  private unauthorized = false;
  private refreshing?: Promise<void>;
  private warnedInsecure = false;
  /** How many times the credentials changed (and the pools were replaced); for tests and logs. */
  rotations = 0;

  private constructor(source: CredentialSource, creds: Credentials, opts: ClientOptions) {
    this.source = source;
    this.creds = creds;
    this.server = creds.server;
    this.opts = {
      userAgent: opts.userAgent ?? 'smartcloudops-operator',
      qps: opts.qps ?? 50,
      burst: opts.burst ?? 100,
      maxRetries: opts.maxRetries ?? 10,
      timeoutMs: opts.timeoutMs ?? 60_000,
      observer: opts.observer,
      log: opts.log,
    };
    this.limiter = new TokenBucket(this.opts.qps, this.opts.burst);
    this.agent = this.makeAgent(false);
    this.watchAgent = this.makeAgent(true);
    this.warnIfInsecure();
  }

  /**
   * From kubeconfig file(s) (`kubeconfig`, else $KUBECONFIG; several separated by ':'), the in-cluster service
   * account, or ~/.kube/config; `context` overrides current-context.
   */
  static async create(opts: ClientOptions & CredentialOptions = {}): Promise<KubeClient> {
    const source = await credentialSource(opts);
    return new KubeClient(source, await source.load(), opts);
  }

  /** Where the credentials come from, for start-up logs. */
  get credentialSource(): string {
    return this.source.describe;
  }

  private warnIfInsecure(): void {
    if (this.warnedInsecure || this.creds.agentOptions.rejectUnauthorized !== false) return;
    if (this.server.protocol !== 'https:') return;
    this.warnedInsecure = true;
    this.opts.log?.warn(
      { server: this.server.host, credentials: this.source.describe },
      'TLS verification of the API server is off (insecure-skip-tls-verify): anyone on the path can impersonate it',
    );
  }

  private makeAgent(watch: boolean): http.Agent {
    const options: https.AgentOptions = {
      ...this.creds.agentOptions,
      keepAlive: true,
      // Watches hold their socket for minutes: give them their own pool so they never starve ordinary requests.
      maxSockets: watch ? Infinity : 64,
      maxFreeSockets: watch ? 4 : 16,
    };
    const tlsTarget = this.server.protocol === 'https:';
    const proxy = this.creds.proxy;
    if (!proxy) return tlsTarget ? new https.Agent(options) : new http.Agent(options);
    // proxy-url: open a CONNECT tunnel, then speak TLS (or plain HTTP) to the API server through it.
    const tunnel = (o: https.RequestOptions, cb: (err: Error | null, s?: net.Socket) => void) => {
      const target = { host: o.host ?? this.server.hostname, port: Number(o.port ?? this.server.port) };
      connectTunnel(proxy, target, this.opts.timeoutMs, this.creds.agentOptions)
        .then((socket) => {
          if (!tlsTarget) return cb(null, socket);
          const secure = tls.connect({
            ...(o as tls.ConnectionOptions),
            socket,
            servername:
              this.creds.agentOptions.servername ?? (net.isIP(this.server.hostname) ? undefined : this.server.hostname),
          });
          secure.once('secureConnect', () => cb(null, secure));
          secure.once('error', (err) => cb(err));
        })
        .catch((err: Error) => cb(err));
      return undefined;
    };
    if (tlsTarget) {
      return new (class extends https.Agent {
        override createConnection = tunnel as unknown as https.Agent['createConnection'];
      })(options);
    }
    return new (class extends http.Agent {
      override createConnection = tunnel as unknown as http.Agent['createConnection'];
    })(options);
  }

  /**
   * Tokens (exec plugins, projected service-account tokens) rotate: reload credentials once a minute, or at once
   * (`force`) after a 401. Concurrent callers share one reload.
   */
  private async maybeRefresh(force = false): Promise<void> {
    if (this.refreshing) return this.refreshing;
    force ||= this.unauthorized;
    this.unauthorized = false;
    if (!force && Date.now() - this.refreshedAt < 60_000) return;
    this.refreshedAt = Date.now();
    this.refreshing = this.source
      .load({ force })
      .then((next) => this.useCredentials(next))
      .finally(() => (this.refreshing = undefined));
    return this.refreshing;
  }

  private useCredentials(next: Credentials): void {
    const prev = this.creds;
    this.creds = next;
    const tlsChanged = JSON.stringify(tlsKey(next)) !== JSON.stringify(tlsKey(prev));
    const headersChanged = JSON.stringify(next.headers) !== JSON.stringify(prev.headers);
    if (!tlsChanged && !headersChanged) return;
    this.rotations++;
    const old = [this.agent, this.watchAgent];
    this.agent = this.makeAgent(false);
    this.watchAgent = this.makeAgent(true);
    for (const a of old) {
      if (tlsChanged) a.destroy();
      else retire(a);
    }
    this.warnIfInsecure();
  }

  close(): void {
    this.agent.destroy();
    this.watchAgent.destroy();
  }

  async request<T>(method: string, path: string, ro: RequestOptions): Promise<T> {
    let reauthenticated = false;
    for (let attempt = 0; ; attempt++) {
      ro.signal?.throwIfAborted();
      const res = await this.once(method, path, ro);
      if (res.status >= 200 && res.status < 300) {
        return (res.body.length && !ro.discardBody ? JSON.parse(res.body) : undefined) as T;
      }
      if (res.status === 401 && !reauthenticated) {
        // Credentials may have rotated under us (exec plugin token expired early, token file replaced).
        reauthenticated = true;
        await this.maybeRefresh(true);
        continue;
      }
      const status = parseStatus(res.body, res.status);
      const retryAfter = Number(res.retryAfter ?? status.details?.retryAfterSeconds);
      if (
        RETRY_STATUS.has(res.status) &&
        Number.isFinite(retryAfter) &&
        retryAfter >= 0 &&
        attempt < this.opts.maxRetries
      ) {
        await sleep(Math.min(retryAfter, 30) * 1000, undefined, { signal: ro.signal });
        continue;
      }
      throw new KubeApiError(method, path, res.status, status);
    }
  }

  private async once(
    method: string,
    path: string,
    ro: RequestOptions,
  ): Promise<{ status: number; body: string; retryAfter?: string }> {
    await this.maybeRefresh();
    const waited = await this.limiter.take();
    if (waited > 0) this.opts.observer?.rateLimited?.(ro.verb, waited / 1000);
    const url = this.url(path, ro.query);
    const payload = ro.body === undefined ? undefined : typeof ro.body === 'string' ? ro.body : JSON.stringify(ro.body);
    const headers: Record<string, string> = {
      ...this.creds.headers,
      accept: 'application/json',
      'user-agent': this.opts.userAgent,
    };
    if (payload !== undefined) {
      headers['content-type'] = ro.contentType ?? 'application/json';
      headers['content-length'] = String(Buffer.byteLength(payload));
    }
    const start = process.hrtime.bigint();
    const observe = (code: string) =>
      this.opts.observer?.request?.({
        method,
        verb: ro.verb,
        code,
        host: this.server.host,
        path,
        seconds: Number(process.hrtime.bigint() - start) / 1e9,
      });
    const lib = url.protocol === 'https:' ? https : http;
    return new Promise((resolve, reject) => {
      const opts = { method, headers, agent: this.agent, timeout: this.opts.timeoutMs, signal: ro.signal };
      const req = lib.request(url, opts, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          observe(String(res.statusCode));
          const ra = res.headers['retry-after'];
          const ok = (res.statusCode ?? 0) >= 200 && (res.statusCode ?? 0) < 300;
          const body = ok && ro.discardBody ? '' : Buffer.concat(chunks).toString('utf8');
          resolve({ status: res.statusCode ?? 0, body, retryAfter: ra });
        });
        res.on('error', (err) => {
          observe('<error>');
          reject(new KubeTransportError(method, path, err));
        });
      });
      req.on('timeout', () => req.destroy(new Error(`no response within ${this.opts.timeoutMs}ms`)));
      req.on('error', (err) => {
        observe('<error>');
        reject(new KubeTransportError(method, path, err));
      });
      if (payload !== undefined) req.write(payload);
      req.end();
    });
  }

  private url(path: string, query?: RequestOptions['query']): URL {
    const url = new URL(path, this.server);
    // Keep a path prefix of the server URL (e.g. https://host/k8s/clusters/c1).
    if (this.server.pathname !== '/') url.pathname = this.server.pathname.replace(/\/$/, '') + path;
    for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    return url;
  }

  // ---- typed helpers ---------------------------------------------------------------------------------------------

  get<T extends KubeObject>(
    ref: ResourceRef,
    namespace: string | undefined,
    name: string,
    subresource?: string,
  ): Promise<T> {
    return this.request<T>('GET', resourcePath(ref, namespace, name, subresource), { verb: 'get' });
  }

  async list<T extends KubeObject>(ref: ResourceRef, o: ListOptions = {}): Promise<KubeList<T>> {
    const path = resourcePath(ref, o.namespace);
    let cont: string | undefined;
    let result: KubeList<T> | undefined;
    do {
      const page: KubeList<T> = await this.request('GET', path, {
        verb: 'list',
        query: {
          labelSelector: o.labelSelector,
          fieldSelector: o.fieldSelector,
          limit: o.limit,
          continue: cont,
          resourceVersion: cont ? undefined : o.resourceVersion,
        },
      });
      if (!result) result = page;
      else result.items.push(...page.items);
      cont = page.metadata?.continue || undefined;
      result.metadata = { ...page.metadata, continue: undefined };
    } while (cont);
    for (const item of result.items) {
      // Items of a list carry no apiVersion/kind; fill them in so they can be applied or compared as objects.
      item.apiVersion ??= apiVersionOf(ref);
      item.kind ??= ref.kind;
    }
    return result;
  }

  create<T extends KubeObject>(
    ref: ResourceRef,
    obj: T,
    o: { dryRun?: boolean; fieldManager?: string; fieldValidation?: 'Strict' | 'Warn' | 'Ignore' } = {},
  ): Promise<T> {
    return this.request<T>('POST', resourcePath(ref, obj.metadata.namespace), {
      verb: 'create',
      body: obj,
      query: { dryRun: o.dryRun ? 'All' : undefined, fieldManager: o.fieldManager, fieldValidation: o.fieldValidation },
    });
  }

  replace<T extends KubeObject>(ref: ResourceRef, obj: T, subresource?: string): Promise<T> {
    return this.request<T>('PUT', resourcePath(ref, obj.metadata.namespace, obj.metadata.name, subresource), {
      verb: 'update',
      body: obj,
    });
  }

  patch<T extends KubeObject>(
    ref: ResourceRef,
    namespace: string | undefined,
    name: string,
    body: unknown,
    type: Exclude<PatchType, 'apply'>,
    o: { subresource?: string; fieldManager?: string } = {},
  ): Promise<T> {
    return this.request<T>('PATCH', resourcePath(ref, namespace, name, o.subresource), {
      verb: 'patch',
      body,
      contentType: PATCH_CONTENT_TYPE[type],
      query: { fieldManager: o.fieldManager },
    });
  }

  /** Server-side apply: `obj` holds exactly the fields this manager owns (apiVersion, kind, name required). */
  apply<T extends KubeObject>(ref: ResourceRef, obj: T, o: ApplyOptions): Promise<T> {
    const name = obj.metadata.name;
    if (!name) throw new Error(`server-side apply needs metadata.name (${ref.kind})`);
    const body = { ...obj, apiVersion: obj.apiVersion ?? apiVersionOf(ref), kind: obj.kind ?? ref.kind };
    return this.request<T>('PATCH', resourcePath(ref, obj.metadata.namespace, name, o.subresource), {
      verb: 'patch',
      body,
      contentType: PATCH_CONTENT_TYPE.apply,
      query: { fieldManager: o.fieldManager, force: o.force ?? true, dryRun: o.dryRun ? 'All' : undefined },
      discardBody: o.discardBody,
    });
  }

  delete(ref: ResourceRef, namespace: string | undefined, name: string, o: DeleteOptions = {}): Promise<unknown> {
    return this.request('DELETE', resourcePath(ref, namespace, name), {
      verb: 'delete',
      body: { kind: 'DeleteOptions', apiVersion: 'v1', ...o },
    });
  }

  /**
   * Streams watch events to `onEvent` until the server ends the stream, `stop()` is called, or an error occurs.
   * An ERROR event becomes a rejected `done` with a KubeApiError (410 when the resourceVersion is too old).
   */
  watch<T extends KubeObject>(ref: ResourceRef, o: WatchOptions, onEvent: (e: WatchEvent<T>) => void): WatchHandle {
    const path = resourcePath(ref, o.namespace);
    const idleMs = o.idleTimeoutMs ?? ((o.timeoutSeconds ?? 300) + 30) * 1000;
    let req: http.ClientRequest | undefined;
    let stopped = false;
    const done = (async () => {
      await this.maybeRefresh();
      const waited = await this.limiter.take();
      if (waited > 0) this.opts.observer?.rateLimited?.('watch', waited / 1000);
      const url = this.url(path, {
        watch: 1,
        resourceVersion: o.resourceVersion,
        labelSelector: o.labelSelector,
        fieldSelector: o.fieldSelector,
        timeoutSeconds: o.timeoutSeconds,
        allowWatchBookmarks: o.allowWatchBookmarks ?? true,
      });
      const start = process.hrtime.bigint();
      const observe = (code: string) =>
        this.opts.observer?.request?.({
          method: 'GET',
          verb: 'watch',
          code,
          host: this.server.host,
          path,
          seconds: Number(process.hrtime.bigint() - start) / 1e9,
        });
      const lib = url.protocol === 'https:' ? https : http;
      await new Promise<void>((resolve, reject) => {
        if (stopped) return resolve();
        const headers = { ...this.creds.headers, accept: 'application/json', 'user-agent': this.opts.userAgent };
        req = lib.request(url, { method: 'GET', headers, agent: this.watchAgent }, (res) => {
          if (res.statusCode !== 200) {
            // The caller re-watches; make that attempt reload the credentials first.
            if (res.statusCode === 401) this.unauthorized = true;
            const chunks: Buffer[] = [];
            res.on('data', (c: Buffer) => chunks.push(c));
            res.on('end', () => {
              observe(String(res.statusCode));
              const body = Buffer.concat(chunks).toString('utf8');
              reject(new KubeApiError('WATCH', path, res.statusCode ?? 0, parseStatus(body, res.statusCode ?? 0)));
            });
            return;
          }
          observe('200');
          let buffered = '';
          let failed = false;
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => {
            if (failed) return;
            buffered += chunk;
            let nl: number;
            while ((nl = buffered.indexOf('\n')) >= 0) {
              const line = buffered.slice(0, nl).trim();
              buffered = buffered.slice(nl + 1);
              if (!line) continue;
              let event: WatchEvent<T>;
              try {
                event = JSON.parse(line) as WatchEvent<T>;
              } catch (err) {
                failed = true;
                req?.destroy(new Error(`undecodable watch event: ${(err as Error).message}`));
                return;
              }
              if (event.type === 'ERROR') {
                failed = true;
                const st = event.object as unknown as ApiStatus;
                reject(new KubeApiError('WATCH', path, st.code ?? 500, st));
                req?.destroy();
                return;
              }
              onEvent(event);
            }
          });
          res.on('error', () => undefined); // reported through 'close' below
          res.on('close', () => {
            if (stopped || res.complete) resolve();
            else reject(new KubeTransportError('WATCH', path, new Error('the watch stream was cut off')));
          });
        });
        req.setTimeout(idleMs, () => req?.destroy(new Error(`watch idle for ${idleMs}ms`)));
        req.on('error', (err) => {
          if (stopped) return resolve();
          observe('<error>');
          reject(new KubeTransportError('WATCH', path, err));
        });
        req.end();
      });
    })();
    return {
      done,
      stop: () => {
        stopped = true;
        req?.destroy();
      },
    };
  }
}

function tlsKey(c: Credentials): unknown[] {
  const a = c.agentOptions;
  return [a.ca, a.cert, a.key, a.rejectUnauthorized, a.servername, c.proxy?.href].map((v) =>
    Buffer.isBuffer(v) ? v.toString('base64') : v,
  );
}

/** Closes a pool gracefully: idle sockets now, busy ones when their request ends (maxFreeSockets 0). */
function retire(agent: http.Agent): void {
  agent.maxFreeSockets = 0;
  for (const list of Object.values(agent.freeSockets)) for (const s of list ?? []) s.destroy();
}

/**
 * Opens an HTTP CONNECT tunnel through `proxy` to host:port. An https:// proxy is verified with the cluster's CA
 * settings, as Go's transport does with its TLS config.
 */
function connectTunnel(
  proxy: URL,
  { host, port }: { host: string; port: number },
  timeoutMs: number,
  tlsOptions: https.AgentOptions,
): Promise<net.Socket> {
  const lib = proxy.protocol === 'https:' ? https : http;
  const target = `${net.isIPv6(host) ? `[${host}]` : host}:${port}`;
  const headers: Record<string, string> = { host: target };
  if (proxy.username || proxy.password) {
    const user = `${decodeURIComponent(proxy.username)}:${decodeURIComponent(proxy.password)}`;
    headers['proxy-authorization'] = `Basic ${Buffer.from(user).toString('base64')}`;
  }
  return new Promise((resolve, reject) => {
    const req = lib.request({
      host: proxy.hostname.replace(/^\[|\]$/g, ''),
      port: proxy.port || (proxy.protocol === 'https:' ? 443 : 80),
      method: 'CONNECT',
      path: target,
      headers,
      agent: false,
      timeout: timeoutMs,
      ...(proxy.protocol === 'https:' ? { ca: tlsOptions.ca, rejectUnauthorized: tlsOptions.rejectUnauthorized } : {}),
    });
    req.once('connect', (res, socket) => {
      if (res.statusCode === 200) return resolve(socket);
      socket.destroy();
      reject(new Error(`proxy ${proxy.host} refused CONNECT ${target}: ${res.statusCode} ${res.statusMessage ?? ''}`));
    });
    req.once('timeout', () =>
      req.destroy(new Error(`proxy ${proxy.host}: no answer to CONNECT within ${timeoutMs}ms`)),
    );
    req.once('error', (err) => reject(new Error(`proxy ${proxy.host}: ${err.message}`, { cause: err })));
    req.end();
  });
}

function parseStatus(body: string, code: number): ApiStatus {
  try {
    const parsed = JSON.parse(body) as ApiStatus;
    if (parsed && typeof parsed === 'object') return parsed;
  } catch {
    /* not JSON */
  }
  return { code, message: body.slice(0, 500) || `HTTP ${code}` };
}
