// Where the local cluster lives and which loopback ports it uses. Every port can be overridden by an environment
// variable; the state directory by SCO_CLUSTER_DIR.
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

export interface PortSpec {
  key: PortKey;
  what: string;
  env: string;
  fallback: number;
}

export type PortKey =
  | 'etcdClient'
  | 'etcdPeer'
  | 'apiserver'
  | 'controllerManager'
  | 'scheduler'
  | 'kwok'
  | 'postgres'
  | 'redis'
  | 's3'
  | 'prometheus'
  | 'certManager';

export const PORTS: readonly PortSpec[] = [
  { key: 'etcdClient', what: 'etcd (client)', env: 'SCO_PORT_ETCD', fallback: 12379 },
  { key: 'etcdPeer', what: 'etcd (peer)', env: 'SCO_PORT_ETCD_PEER', fallback: 12380 },
  { key: 'apiserver', what: 'kube-apiserver', env: 'SCO_PORT_APISERVER', fallback: 16443 },
  { key: 'controllerManager', what: 'kube-controller-manager', env: 'SCO_PORT_CONTROLLER_MANAGER', fallback: 20257 },
  { key: 'scheduler', what: 'kube-scheduler', env: 'SCO_PORT_SCHEDULER', fallback: 20259 },
  { key: 'kwok', what: 'kwok', env: 'SCO_PORT_KWOK', fallback: 20247 },
  { key: 'postgres', what: 'PostgreSQL', env: 'SCO_PORT_POSTGRES', fallback: 15432 },
  { key: 'redis', what: 'Redis', env: 'SCO_PORT_REDIS', fallback: 16379 },
  { key: 's3', what: 'S3 (versitygw)', env: 'SCO_PORT_S3', fallback: 17070 },
  { key: 'prometheus', what: 'Prometheus', env: 'SCO_PORT_PROMETHEUS', fallback: 19090 },
  {
    key: 'certManager',
    what: 'cert-manager (metrics; health on the next port)',
    env: 'SCO_PORT_CERT_MANAGER',
    fallback: 19402,
  },
];

export type Ports = Record<PortKey, number>;

export function resolvePorts(env: NodeJS.ProcessEnv = process.env): Ports {
  const out = {} as Ports;
  for (const p of PORTS) {
    const raw = env[p.env];
    if (raw === undefined || raw === '') {
      out[p.key] = p.fallback;
      continue;
    }
    const n = Number(raw);
    if (!Number.isInteger(n) || n < 1024 || n > 65535) {
      throw new Error(`${p.env}=${raw} is not a valid port for ${p.what} (an integer from 1024 to 65535)`);
    }
    out[p.key] = n;
  }
  return out;
}

export interface Layout {
  dir: string;
  stateFile: string;
  envFile: string;
  kubeconfig: string;
  logs: string;
  pki: string;
  etcdData: string;
  s3Data: string;
  redisData: string;
}

export function layout(env: NodeJS.ProcessEnv = process.env): Layout {
  const dir = resolve(env.SCO_CLUSTER_DIR || join(repoRoot, '.cluster'));
  return {
    dir,
    stateFile: join(dir, 'state.json'),
    envFile: join(dir, 'env.json'),
    kubeconfig: join(dir, 'kubeconfig'),
    logs: join(dir, 'logs'),
    pki: join(dir, 'pki'),
    etcdData: join(dir, 'etcd'),
    s3Data: join(dir, 's3'),
    redisData: join(dir, 'redis'),
  };
}
