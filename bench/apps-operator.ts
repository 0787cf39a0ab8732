// The operator process of the apps benchmark: the real Manager with the real SmartCloudOpsApp capability and its
// semantic checks (src/controllers/smartcloudopsapp), built as controller.ts builds `smartCloudOpsAppController`
// with one difference: the health checks' HTTP GET goes to the bench's loopback health endpoint (--health-endpoint)
// instead of the Service's ClusterIP. The apps' pods are kwok pods (nothing listens behind the ClusterIP, and this
// machine may not send a packet to a cluster range that no local kube-proxy serves), so the request is routed the
// way a port-forward would route it: same path, same timeout, the capability's own `httpGet` and runner.
// Bundled by bench/apps.ts; the process itself is bench/operator-process.ts.
import { appCapability, appOptionsFromEnv } from '../src/controllers/smartcloudopsapp/capability.js';
import { semantic } from '../src/controllers/smartcloudopsapp/controller.js';
import { httpGet, type HttpGet } from '../src/controllers/smartcloudopsapp/health.js';
import { capabilityController } from '../src/runtime/children-capability.js';
import { arg, runBenchOperator } from './operator-process.js';

/** `http://<ClusterIP>:<port><path>` → `http://<endpoint><path>` (a loopback address, never a cluster range). */
export function routedGet(endpoint: string): HttpGet {
  if (!/^127\.0\.0\.1:\d+$/.test(endpoint))
    throw new Error(`--health-endpoint must be 127.0.0.1:PORT, not "${endpoint}"`);
  return (url, timeoutMs) => {
    const u = new URL(url);
    return httpGet(`http://${endpoint}${u.pathname}${u.search}`, timeoutMs);
  };
}

void runBenchOperator([
  capabilityController(appCapability({ semantic, ...appOptionsFromEnv(), httpGet: routedGet(arg('health-endpoint')) })),
]);
