// The one place tests, benchmarks and the demo read connection details from: `.cluster/env.json`, written by
// `npm run cluster:up` (mode 0600; the passwords are generated per cluster). Environment variables override it so
// the same suites run against other endpoints (e.g. KUBECONFIG pointing at a kind cluster).
import { existsSync, readFileSync } from 'node:fs';
import { layout } from './config.js';

export interface PostgresEnv {
  host: string;
  port: number;
  user: string;
  password: string;
  database: string;
}
export interface RedisEnv {
  host: string;
  port: number;
  password: string;
}
export interface S3Env {
  endpoint: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
  forcePathStyle: true;
  bucket: string;
}
export interface PrometheusEnv {
  url: string;
  scrapeIntervalSeconds: number;
}
export interface ServicesEnv {
  kubeconfig: string;
  apiserver: string;
  postgres: PostgresEnv;
  redis: RedisEnv;
  s3: S3Env;
  /** The monitoring group's Prometheus (hack/cluster/prometheus.ts). */
  prometheus?: PrometheusEnv;
}

export function readServicesEnv(env: NodeJS.ProcessEnv = process.env): Partial<ServicesEnv> {
  const file = layout(env).envFile;
  const fromFile: Partial<ServicesEnv> = existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) : {};
  if (env.KUBECONFIG) fromFile.kubeconfig = env.KUBECONFIG;
  return fromFile;
}
