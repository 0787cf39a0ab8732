// ScalingPolicy test and bench helpers: a stand-in Deployment on the real node, policy objects, the writers of a
// Deployment's spec.replicas from its managedFields, and CPU load driven at the pods' bridge IPs. Load goes only to
// pod IPs on the real node's bridge (10.250.0.0/24, local to this machine: real-node.md), never anywhere else.
import { resourceRefOf } from '../../src/crds/kinds.js';
import { Resources, type KubeClient, type KubeObject } from '../../src/kube/index.js';

export const POLICY = resourceRefOf('ScalingPolicy');
const POLICY_API = `${POLICY.group}/${POLICY.version}`;
export const [NODE_LABEL, NODE_VALUE] = ['smartcloudops.ai/node', 'real'];
const TAINT_KEY = 'smartcloudops.ai/real-node';
const IMAGE = 'localhost/smartcloudops/standin:1.0.0';
const BRIDGE_PREFIX = '10.250.0.';

export type Policy = KubeObject & {
  spec: Record<string, unknown>;
  status?: { conditions?: { type: string; status: string; reason: string; message: string }[] } & Record<
    string,
    unknown
  >;
};

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A stand-in Deployment on the real node, without spec.replicas (so no manager owns it at first). */
export function standinDeployment(name: string, ns: string): KubeObject & { spec: Record<string, unknown> } {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace: ns, labels: { app: name } },
    spec: {
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: {
          nodeSelector: { [NODE_LABEL]: NODE_VALUE },
          tolerations: [{ key: TAINT_KEY, operator: 'Exists', effect: 'NoSchedule' }],
          terminationGracePeriodSeconds: 1,
          securityContext: { runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } },
          containers: [
            {
              name: 'app',
              image: IMAGE,
              imagePullPolicy: 'IfNotPresent',
              env: [{ name: 'PORTS', value: '5000' }],
              ports: [{ containerPort: 5000 }],
              readinessProbe: { httpGet: { path: '/health', port: 5000 }, periodSeconds: 1 },
              // Small CPU request: a few tens of millicores of /burn are far above 50 %; memory well below 80 %.
              // A CPU limit bounds what the load can take from the shared machine (a fifth of a core per pod).
              resources: { requests: { cpu: '10m', memory: '128Mi' }, limits: { cpu: '200m' } },
              securityContext: {
                allowPrivilegeEscalation: false,
                readOnlyRootFilesystem: true,
                capabilities: { drop: ['ALL'] },
              },
            },
          ],
        },
      },
    },
  };
}

export function policyObject(name: string, ns: string, spec: Record<string, unknown>): Policy {
  return { apiVersion: POLICY_API, kind: 'ScalingPolicy', metadata: { name, namespace: ns }, spec };
}
/** Managers that own spec.replicas of a Deployment (from the API, managedFields included). */
export function replicaWriters(d: KubeObject): string[] {
  return ((d.metadata.managedFields ?? []) as { manager?: string; subresource?: string; fieldsV1?: unknown }[])
    .filter((e) => {
      const spec = (e.fieldsV1 as Record<string, Record<string, unknown>> | undefined)?.['f:spec'];
      return spec !== undefined && 'f:replicas' in spec;
    })
    .map((e) => `${e.manager}${e.subresource ? `/${e.subresource}` : ''}`);
}

/** Drives CPU load at the Deployment's ready pods (their bridge IPs only) until stopped. */
export function driveLoad(
  client: KubeClient,
  ns: string,
  app: string,
  burnMs = 40,
  workers = 2,
): () => Promise<number> {
  let stop = false;
  let sent = 0;
  let targets: string[] = [];
  const refresh = async () => {
    const pods = await client.list<KubeObject & { status?: { podIP?: string } }>(Resources.Pod, {
      namespace: ns,
      labelSelector: `app=${app}`,
    });
    targets = pods.items
      .map((p) => p.status?.podIP)
      .filter((ip): ip is string => typeof ip === 'string' && ip.startsWith(BRIDGE_PREFIX));
  };
  const refresher = (async () => {
    while (!stop) {
      await refresh().catch(() => undefined);
      await sleep(2000);
    }
  })();
  const worker = async (i: number) => {
    while (!stop) {
      const ip = targets[(sent + i) % Math.max(1, targets.length)];
      if (!ip) {
        await sleep(200);
        continue;
      }
      try {
        const res = await fetch(`http://${ip}:5000/burn?ms=${burnMs}`, { signal: AbortSignal.timeout(5000) });
        await res.arrayBuffer();
      } catch {
        await sleep(100);
      }
      sent++;
      await sleep(20);
    }
  };
  const all = [refresher, ...Array.from({ length: workers }, (_, i) => worker(i))];
  return async () => {
    stop = true;
    await Promise.all(all);
    return sent;
  };
}
