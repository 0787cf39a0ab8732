// Connection details for tests, from the one place the tooling writes them (.cluster/env.json), with KUBECONFIG
// taking precedence so the e2e suite runs unchanged against any cluster (kind included).
import { readServicesEnv, type PostgresEnv, type RedisEnv, type S3Env } from '../../hack/cluster/env.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

function need<T>(value: T | undefined, what: string): T {
  if (value === undefined) {
    throw new Error(`${what} is not configured: run "npm run cluster:up" (or set KUBECONFIG for the e2e suite)`);
  }
  return value;
}

export const kubeconfigPath = (): string => need(readServicesEnv().kubeconfig, 'a Kubernetes cluster');
export const postgresEnv = (): PostgresEnv => need(readServicesEnv().postgres, 'PostgreSQL');
export const redisEnv = (): RedisEnv => need(readServicesEnv().redis, 'Redis');
export const s3Env = (): S3Env => need(readServicesEnv().s3, 'S3');
