// Installs the generated CRDs (config/crd) into the test cluster and waits until they are served.
// SCO_E2E_CRDS (comma-separated CRD names or plurals, e.g. "backupschedules") installs only those: for a cluster
// shared by several branches, where each installs only the kinds it changed and leaves the others as they are.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { resolveBinaries } from '../../hack/cluster/binaries.js';
import { repoRoot } from '../../hack/cluster/config.js';
import { Resources, type KubeClient, type KubeObject } from '../../src/kube/index.js';
import { condition, eventually } from './kube.js';

export async function installCrds(client: KubeClient): Promise<string[]> {
  const dir = join(repoRoot, 'config', 'crd');
  const names: string[] = [];
  const only = (process.env.SCO_E2E_CRDS ?? '')
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean);
  for (const f of readdirSync(dir).filter((x) => x.endsWith('.yaml'))) {
    const crd = parse(readFileSync(join(dir, f), 'utf8')) as KubeObject;
    const name = crd.metadata.name as string;
    if (only.length && !only.some((o) => name === o || name.split('.')[0] === o)) {
      names.push(name);
      continue;
    }
    await client.apply(Resources.CustomResourceDefinition, crd, { fieldManager: 'smartcloudops-e2e', force: true });
    names.push(crd.metadata.name as string);
  }
  for (const name of names) {
    await eventually(`CRD ${name} Established`, async () => {
      const crd = await client.get<KubeObject & { status?: { conditions?: { type: string; status: string }[] } }>(
        Resources.CustomResourceDefinition,
        undefined,
        name,
      );
      return condition(crd, 'Established')?.status === 'True';
    });
  }
  return names;
}

export function readSamples(): KubeObject[] {
  const dir = join(repoRoot, 'config', 'samples');
  return readdirSync(dir)
    .filter((f) => f.endsWith('.yaml'))
    .sort()
    .map((f) => parse(readFileSync(join(dir, f), 'utf8')) as KubeObject);
}

/**
 * A tool of the local build (kubectl, helm) when it exists, else the one on PATH (kind and other clusters);
 * SCO_KUBECTL / SCO_HELM override.
 */
const tools = new Map<string, string>();
export function toolPath(tool: 'kubectl' | 'helm'): string {
  const override = process.env[tool === 'kubectl' ? 'SCO_KUBECTL' : 'SCO_HELM'];
  if (override) return override;
  let path = tools.get(tool);
  if (!path) {
    try {
      path = resolveBinaries({ build: false })[tool];
    } catch {
      path = tool;
    }
    tools.set(tool, path);
  }
  return path;
}

export const kubectlPath = (): string => toolPath('kubectl');
