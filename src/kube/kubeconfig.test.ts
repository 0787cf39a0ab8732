// Real kubeconfig shapes (src/kube/testdata) read as kubectl reads them: kind's, relative paths, an exec plugin, an
// auth-provider, several files merged, and the shapes that must be refused with an error naming the field.
import { describe, expect, test } from '@jest/globals';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { credentialSource, loadKubeconfigs } from './kubeconfig.js';

const dir = join(dirname(fileURLToPath(import.meta.url)), 'testdata');
const fixture = (...p: string[]) => join(dir, ...p);
const load = (kubeconfig: string, context?: string) =>
  credentialSource({ kubeconfig, context, env: {} }).then((s) => s.load());
const text = (b: unknown) => (Buffer.isBuffer(b) ? b.toString('utf8').trim() : b);

describe('kubeconfig', () => {
  test("kind's kubeconfig: embedded CA, client certificate and key", async () => {
    const c = await load(fixture('kind.yaml'));
    expect(c.server.href).toBe('https://127.0.0.1:40127/');
    expect(text(c.agentOptions.ca)).toBe('kind-ca-pem');
    expect(text(c.agentOptions.cert)).toBe('kind-client-cert-pem');
    expect(text(c.agentOptions.key)).toBe('kind-client-key-pem');
    expect(c.agentOptions.rejectUnauthorized).toBe(true);
    expect(c.headers).toEqual({});
    expect(c.proxy).toBeUndefined();
  });

  test("relative paths resolve against the file's directory, whatever the working directory", async () => {
    const cwd = process.cwd();
    process.chdir(mkdtempSync(join(os.tmpdir(), 'sco-cwd-')));
    try {
      const admin = await load(fixture('relative', 'config.yaml'));
      expect(text(admin.agentOptions.ca)).toBe('relative-ca-pem');
      expect(text(admin.agentOptions.cert)).toBe('relative-client-cert-pem');
      expect(text(admin.agentOptions.key)).toBe('relative-client-key-pem');
      expect(admin.agentOptions.servername).toBe('kubernetes.default');
      const robot = await load(fixture('relative', 'config.yaml'), 'robot');
      expect(robot.headers.authorization).toBe('Bearer robot-token-from-file');
    } finally {
      process.chdir(cwd);
    }
  });

  test('an exec plugin runs with its env and KUBERNETES_EXEC_INFO; its token is cached until forced', async () => {
    const state = join(mkdtempSync(join(os.tmpdir(), 'sco-exec-')), 'runs');
    process.env.SCO_EXEC_PLUGIN_STATE = state;
    try {
      const src = await credentialSource({ kubeconfig: fixture('exec.yaml'), env: {} });
      expect(src.describe).toContain('exec plugin');
      const first = await src.load();
      expect(first.headers.authorization).toBe('Bearer exec-token-1@https://127.0.0.1:6443');
      expect(first.agentOptions.rejectUnauthorized).toBe(false);
      expect((await src.load()).headers.authorization).toBe('Bearer exec-token-1@https://127.0.0.1:6443');
      expect((await src.load({ force: true })).headers.authorization).toBe(
        'Bearer exec-token-2@https://127.0.0.1:6443',
      );
    } finally {
      delete process.env.SCO_EXEC_PLUGIN_STATE;
    }
  });

  test('a missing exec plugin is reported with its install hint, and its output is never quoted', async () => {
    const tmp = mkdtempSync(join(os.tmpdir(), 'sco-exec-'));
    const yaml = readFileSync(fixture('exec.yaml'), 'utf8');
    writeFileSync(join(tmp, 'missing.yaml'), yaml.replace('./exec-plugin.mjs', './no-such-plugin'));
    await expect(load(join(tmp, 'missing.yaml'))).rejects.toThrow(
      `exec plugin ${join(tmp, 'no-such-plugin')} (kubeconfig ${join(tmp, 'missing.yaml')}) not found; install the stand-in plugin from src/kube/testdata`,
    );
    // A plugin that prints a token but not an ExecCredential: the error must not contain what it printed.
    writeFileSync(join(tmp, 'leaky.sh'), '#!/bin/sh\necho "not-json leaked-token-value"\n', { mode: 0o755 });
    writeFileSync(join(tmp, 'leaky.yaml'), yaml.replace('./exec-plugin.mjs', './leaky.sh'));
    const err = await load(join(tmp, 'leaky.yaml')).catch((e: Error) => e);
    expect(String(err)).toMatch(/printed something that is not JSON/);
    expect(String(err)).not.toContain('leaked-token-value');
  });

  test('an auth-provider goes through client-node, which yields the cached access token', async () => {
    const src = await credentialSource({ kubeconfig: fixture('auth-provider.yaml'), env: {} });
    expect(src.describe).toContain('auth-provider gcp');
    const c = await src.load();
    expect(c.headers.authorization).toBe('Bearer gcp-access-token');
    expect(text(c.agentOptions.ca)).toBe('gke-ca-pem');
  });

  test('several files merge as kubectl merges them: first file wins per name, current-context from the first that sets it', async () => {
    const paths = [fixture('merge', 'missing.yaml'), fixture('merge', 'first.yaml'), fixture('merge', 'second.yaml')];
    const merged = loadKubeconfigs(paths);
    expect(merged.currentContext).toEqual({ name: 'from-second', file: fixture('merge', 'second.yaml') });
    expect(merged.clusters.get('shared')?.value.server).toBe('https://first.example:6443');
    expect(merged.users.get('shared')?.value.token).toBe('first-token');
    expect(merged.contexts.get('from-first')?.value.cluster).toBe('shared');
    // The same through $KUBECONFIG: the context of the second file, the user of the first, the CA file resolved
    // against the second file's directory.
    const src = await credentialSource({ env: { KUBECONFIG: paths.join(delimiter) } });
    const c = await src.load();
    expect(c.server.host).toBe('only-second.example:6443');
    expect(c.headers.authorization).toBe('Bearer first-token');
    expect(text(c.agentOptions.ca)).toBe('second-ca-pem');
    // --context picks a context of the first file.
    const first = await credentialSource({ env: { KUBECONFIG: paths.join(delimiter) }, context: 'from-first' });
    expect((await first.load()).server.host).toBe('first.example:6443');
  });

  test.each([
    ['refused.yaml', 'impersonate', /user "impersonating" sets as, as-groups, as-user-extra \(impersonation\)/],
    ['refused.yaml', 'two-methods', /user "two-methods": more than one authentication method \(token, basic auth\)/],
    ['refused.yaml', 'socks', /cluster "socks".*proxy-url scheme "socks5" is not supported/],
    ['refused.yaml', 'missing-cluster', /context "missing-cluster" names cluster "nowhere", which is not defined/],
    ['refused.yaml', 'nope', /no context "nope" \(contexts: impersonate, two-methods, socks, missing-cluster\)/],
    [
      'invalid.yaml',
      undefined,
      /cluster "string-bool": insecure-skip-tls-verify must be true or false \(a YAML boolean\), not the string "false"/,
    ],
    ['merge/missing.yaml', undefined, /kubeconfig .*merge\/missing.yaml does not exist/],
  ])('%s (context %s) is refused with a clear error', async (file, context, message) => {
    await expect(load(fixture(file), context)).rejects.toThrow(message);
  });

  test('a kubeconfig without current-context asks for --context', async () => {
    await expect(load(fixture('merge', 'first.yaml'))).rejects.toThrow(
      /no current-context is set and no --context was given \(contexts: from-first\)/,
    );
  });
});
