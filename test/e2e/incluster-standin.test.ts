// The stand-in images on the real node (imported from hack/images/build.sh's archives, never pulled): a healthy tag
// serves /health, /api/health and /metrics on 5000 and 3000 (reached through the API server's pod proxy) under Pod
// Security "restricted"; the -crash tag exits 1 at start and the kubelet reports it; -notready stays unready.
// Skipped, saying so, when the cluster has no node labelled smartcloudops.ai/node=real.
import { afterAll, beforeAll, describe, expect, jest, test } from '@jest/globals';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { Resources, type KubeClient, type KubeObject } from '../../src/kube/index.js';
import { kubectlPath } from '../support/crds.js';
import { kubeconfigPath } from '../support/env.js';
import { parseMetrics, sumMetric } from '../support/prom.js';
import { deleteNamespace, eventually, testClient, uniqueName } from '../support/kube.js';
import { realNodeFor } from '../support/realnode.js';

jest.setTimeout(180_000);
const run = promisify(execFile);
const [LABEL_KEY, LABEL_VALUE] = ['smartcloudops.ai/node', 'real'];
const TAINT_KEY = 'smartcloudops.ai/real-node';
const REPO = 'localhost/smartcloudops/standin';

interface Pod extends KubeObject {
  status?: {
    phase?: string;
    conditions?: { type: string; status: string }[];
    containerStatuses?: {
      ready: boolean;
      restartCount: number;
      state?: { waiting?: { reason?: string } };
      lastState?: { terminated?: { exitCode: number; message?: string } };
    }[];
  };
}

const hasRealNode = await realNodeFor('test/e2e/incluster-standin.test.ts');

const kubectl = (...args: string[]) =>
  run(kubectlPath(), args, { env: { ...process.env, KUBECONFIG: kubeconfigPath() }, maxBuffer: 16 * 1024 * 1024 });

function pod(name: string, ns: string, tag: string): Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: ns },
    spec: {
      nodeSelector: { [LABEL_KEY]: LABEL_VALUE },
      tolerations: [{ key: TAINT_KEY, operator: 'Exists', effect: 'NoSchedule' }],
      securityContext: { runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } },
      containers: [
        {
          name: 'app',
          image: `${REPO}:${tag}`,
          imagePullPolicy: 'IfNotPresent',
          terminationMessagePolicy: 'FallbackToLogsOnError',
          ports: [{ containerPort: 5000 }, { containerPort: 3000 }],
          readinessProbe: { httpGet: { path: '/health', port: 5000 }, periodSeconds: 1 },
          securityContext: {
            allowPrivilegeEscalation: false,
            readOnlyRootFilesystem: true,
            capabilities: { drop: ['ALL'] },
          },
        },
      ],
    },
  } as unknown as Pod;
}

(hasRealNode ? describe : describe.skip)('stand-in images on the real node', () => {
  let client: KubeClient;
  let ns: string;

  beforeAll(async () => {
    client = await testClient();
    ns = uniqueName('e2e-standin');
    await client.create(Resources.Namespace, {
      metadata: {
        name: ns,
        labels: { 'smartcloudops.ai/e2e': 'true', 'pod-security.kubernetes.io/enforce': 'restricted' },
      },
    });
    await eventually(`ServiceAccount default in ${ns}`, () =>
      client.get(Resources.ServiceAccount, ns, 'default').then(() => true),
    );
  });
  afterAll(async () => {
    if (ns) await deleteNamespace(client, ns);
    client.close();
  });

  test('1.0.0 becomes Ready and serves health and metrics on both ports', async () => {
    await client.create(Resources.Pod, pod('healthy', ns, '1.0.0'));
    await eventually(
      'the stand-in pod Ready',
      async () => {
        const p = await client.get<Pod>(Resources.Pod, ns, 'healthy');
        return p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
      },
      { timeoutMs: 60_000 },
    );
    const proxy = (port: number, path: string) =>
      kubectl('get', '--raw', `/api/v1/namespaces/${ns}/pods/http:healthy:${port}/proxy${path}`).then((r) => r.stdout);
    expect(JSON.parse(await proxy(5000, '/health'))).toMatchObject({ status: 'healthy', version: '1.0.0' });
    expect(JSON.parse(await proxy(3000, '/api/health'))).toMatchObject({ status: 'healthy', version: '1.0.0' });
    await proxy(5000, '/orders');
    const m = parseMetrics(await proxy(5000, '/metrics'));
    expect(sumMetric(m, 'http_requests_total', { path: '/other', code: '200' })).toBe(1);
    expect(sumMetric(m, 'standin_info', { version: '1.0.0' })).toBe(1);
  });

  test('1.1.0-crash exits 1 at start; 1.1.0-notready runs but never becomes Ready', async () => {
    await client.create(Resources.Pod, pod('crash', ns, '1.1.0-crash'));
    await client.create(Resources.Pod, pod('notready', ns, '1.1.0-notready'));
    const crashed = await eventually(
      'the crash pod restarting with exit code 1',
      async () => {
        const p = await client.get<Pod>(Resources.Pod, ns, 'crash');
        const s = p.status?.containerStatuses?.[0];
        return s && s.restartCount >= 1 && s.lastState?.terminated ? s : undefined;
      },
      { timeoutMs: 90_000 },
    );
    expect(crashed.lastState?.terminated?.exitCode).toBe(1);
    // the log tail, kept by the kubelet as the termination message (FallbackToLogsOnError)
    expect(crashed.lastState?.terminated?.message).toMatch(/crashing at start \(mode crash\)/);
    const notReady = await client.get<Pod>(Resources.Pod, ns, 'notready');
    expect(notReady.status?.phase).toBe('Running');
    expect(notReady.status?.containerStatuses?.[0]?.ready).toBe(false);
    expect(notReady.status?.containerStatuses?.[0]?.restartCount).toBe(0);
  });
});
