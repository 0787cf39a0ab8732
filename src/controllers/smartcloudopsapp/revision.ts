// Revisions of a SmartCloudOpsApp (pure). A release is everything that defines what runs: per component the image,
// port, health path, resources and environment (user env plus the secretKeyRefs built from the database and cache
// Secrets' key names — never their values). The revision is a hash of the release, so it is the same for the same
// release whoever computes it (a new leader, a rollback rebuilding an old release from status.history).
// Replica counts and scheduling (spec.podTemplate) are not part of a release: scaling or moving pods is not a new
// version, and a rollback keeps the current ones (as `helm rollback` keeps an HPA's count).
import type { SmartCloudOpsAppSpec } from '../../crds/smartcloudopsapp.js';
import { hashOf } from '../../runtime/children.js';

export const COMPONENTS = ['backend', 'frontend'] as const;
export type ComponentName = (typeof COMPONENTS)[number];

export interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: {
    secretKeyRef?: { name: string; key: string; optional?: boolean };
    configMapKeyRef?: { name: string; key: string };
  };
}

export interface ComponentRelease {
  image: string;
  port: number;
  healthPath: string;
  resources: { requests: Record<string, string | number>; limits: Record<string, string | number> };
  env: EnvVar[];
}

export interface Release {
  version: string;
  backend: ComponentRelease;
  frontend: ComponentRelease;
}

/** The key names present in the referenced Secrets (from the cache; values are never read here). */
export interface SecretKeys {
  database?: string[];
  cache?: string[];
}

const DATABASE_ENV: [key: string, env: string][] = [
  ['host', 'PGHOST'],
  ['port', 'PGPORT'],
  ['database', 'PGDATABASE'],
  ['username', 'PGUSER'],
  ['password', 'PGPASSWORD'],
];
const CACHE_ENV: [key: string, env: string][] = [
  ['host', 'REDIS_HOST'],
  ['port', 'REDIS_PORT'],
  ['password', 'REDIS_PASSWORD'],
];

function secretEnv(secret: string, keys: string[] | undefined, uriEnv: string, map: [string, string][]): EnvVar[] {
  const ref = (key: string, name: string): EnvVar => ({ name, valueFrom: { secretKeyRef: { name: secret, key } } });
  if (!keys) return [];
  if (keys.includes('uri')) return [ref('uri', uriEnv)];
  return map.filter(([k]) => keys.includes(k)).map(([k, env]) => ref(k, env));
}

/** The environment the backend gets from the database and cache Secrets: secretKeyRefs only. */
export function dependencyEnv(spec: SmartCloudOpsAppSpec, keys: SecretKeys): EnvVar[] {
  return [
    ...secretEnv(spec.database.secretRef.name, keys.database, 'DATABASE_URL', DATABASE_ENV),
    ...(spec.cache ? secretEnv(spec.cache.secretRef.name, keys.cache, 'REDIS_URL', CACHE_ENV) : []),
  ];
}

export function imageOf(c: SmartCloudOpsAppSpec['backend'], version: string): string {
  const tag = c.tag ?? version;
  return tag.startsWith('sha256:') ? `${c.image}@${tag}` : `${c.image}:${tag}`;
}

/** The release the spec describes (the spec with its schema defaults applied). */
export function releaseOf(spec: SmartCloudOpsAppSpec, keys: SecretKeys): Release {
  const dep = dependencyEnv(spec, keys);
  const component = (name: ComponentName): ComponentRelease => {
    const c = spec[name];
    const user = (c.env ?? []) as EnvVar[];
    const own = new Set(user.map((e) => e.name));
    return {
      image: imageOf(c, spec.version),
      port: c.port ?? (name === 'backend' ? 5000 : 3000),
      healthPath: c.healthPath ?? (name === 'backend' ? '/health' : '/api/health'),
      resources: {
        requests: { cpu: c.resources?.requests?.cpu ?? '100m', memory: c.resources?.requests?.memory ?? '256Mi' },
        limits: { cpu: c.resources?.limits?.cpu ?? '500m', memory: c.resources?.limits?.memory ?? '512Mi' },
      },
      // The user's own variables win over the generated ones of the same name.
      env: [...(name === 'backend' ? dep.filter((e) => !own.has(e.name)) : []), ...user],
    };
  };
  return { version: spec.version, backend: component('backend'), frontend: component('frontend') };
}

/** A 10-digit hex hash: valid as a label value, short enough for columns. */
export const shortHash = (v: unknown): string => Buffer.from(hashOf(v), 'base64url').toString('hex').slice(0, 10);

export const revisionOf = (r: Release): string => shortHash(r);

/** The configuration part of a release (everything but the images and the version). */
export function configHashOf(r: Release): string {
  const strip = ({ image: _i, ...rest }: ComponentRelease) => rest;
  return shortHash({ backend: strip(r.backend), frontend: strip(r.frontend) });
}

export const imagesOf = (r: Release) => ({ backend: r.backend.image, frontend: r.frontend.image });

/** A release read back from status.history (written by releaseOf); undefined when it does not look like one. */
export function parseRelease(v: unknown): Release | undefined {
  const r = v as Release | undefined;
  const ok = (c: ComponentRelease | undefined) =>
    !!c && typeof c.image === 'string' && typeof c.port === 'number' && Array.isArray(c.env);
  return r && typeof r.version === 'string' && ok(r.backend) && ok(r.frontend) ? r : undefined;
}
