// The images hack/images/build.sh built, read from their OCI archives (layers applied in order, whiteouts honoured):
// the operator image has no npm/npx/corepack/yarn, no build-time npm settings or CA bundle left behind, and exactly
// the packages src/ imports (with what they depend on); the stand-in tags carry their behaviour; every archive holds
// one image named for containerd. Needs the images built (bash hack/setup.sh, or bash hack/images/build.sh).
import { beforeAll, describe, expect, test } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../../hack/cluster/config.js';
import { importedPackages, neededPackages } from '../../hack/images/prune-deps.js';

interface Entry {
  ref: string;
  archive: string;
}
interface Descriptor {
  digest: string;
  annotations?: Record<string, string>;
}

function imagesJson(): Entry[] {
  let dir: string;
  try {
    dir = execFileSync('bash', [join(repoRoot, 'hack/images/build.sh'), '--check'], { encoding: 'utf8' })
      .trim()
      .split('\n')
      .pop() as string;
  } catch {
    throw new Error('the images are not built for the current sources: run bash hack/images/build.sh');
  }
  return JSON.parse(readFileSync(join(dir, 'images.json'), 'utf8')) as Entry[];
}

const readMember = (archive: string, member: string): Buffer =>
  execFileSync('tar', ['-xOf', archive, member], { maxBuffer: 1024 * 1024 * 1024 });

function archiveImage(archive: string): {
  index: { manifests: Descriptor[] };
  config: Record<string, unknown>;
  layers: string[];
} {
  const index = JSON.parse(readMember(archive, 'index.json').toString()) as { manifests: Descriptor[] };
  const blob = (d: string) => `blobs/sha256/${d.replace(/^sha256:/, '')}`;
  const manifest = JSON.parse(readMember(archive, blob(index.manifests[0]!.digest)).toString()) as {
    config: Descriptor;
    layers: Descriptor[];
  };
  const config = JSON.parse(readMember(archive, blob(manifest.config.digest)).toString()) as Record<string, unknown>;
  return { index, config, layers: manifest.layers.map((l) => blob(l.digest)) };
}

/** The files of the image's root filesystem: each layer's entries applied in order, whiteouts removing. */
function imageFiles(archive: string): Set<string> {
  const files = new Set<string>();
  for (const layer of archiveImage(archive).layers) {
    const listing = execFileSync('bash', ['-c', `tar -xOf "$0" "$1" | tar -tz`, archive, layer], {
      encoding: 'utf8',
      maxBuffer: 256 * 1024 * 1024,
    });
    const entries = listing
      .split('\n')
      .filter(Boolean)
      .map((p) => p.replace(/^\.\//, '').replace(/\/$/, ''));
    for (const p of entries) {
      const base = p.slice(p.lastIndexOf('/') + 1);
      const dir = p.includes('/') ? p.slice(0, p.lastIndexOf('/') + 1) : '';
      if (base === '.wh..wh..opq') {
        for (const f of [...files]) if (f.startsWith(dir)) files.delete(f);
      } else if (base.startsWith('.wh.')) {
        const gone = dir + base.slice(4);
        for (const f of [...files]) if (f === gone || f.startsWith(`${gone}/`)) files.delete(f);
      }
    }
    for (const p of entries) if (p && !p.slice(p.lastIndexOf('/') + 1).startsWith('.wh.')) files.add(p);
  }
  return files;
}

function* sourceFiles(dir: string): Generator<string> {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) yield* sourceFiles(p);
    else if (p.endsWith('.ts') && !p.endsWith('.test.ts')) yield p;
  }
}

describe('locally built images', () => {
  let images: Entry[];
  let operator: Entry;
  let files: Set<string>;

  beforeAll(() => {
    images = imagesJson();
    operator = images.find((i) => i.ref.startsWith('localhost/smartcloudops/operator:')) as Entry;
    expect(operator).toBeDefined();
    files = imageFiles(operator.archive);
  });

  test('every archive holds one image, named for containerd and OCI tools; tags are fixed', () => {
    for (const { ref, archive } of images) {
      const { index } = archiveImage(archive);
      expect(index.manifests).toHaveLength(1);
      expect(index.manifests[0]?.annotations).toEqual({
        'io.containerd.image.name': ref,
        'org.opencontainers.image.ref.name': ref,
      });
      expect(ref).not.toMatch(/:latest$/);
      expect(ref).toMatch(/^localhost\/smartcloudops\/[a-z-]+:[0-9]+\.[0-9]+\.[0-9]+(-[0-9a-z.-]+)?$/);
    }
  });

  test('the operator image runs node and tini as non-root, without npm, npx, corepack or yarn', () => {
    const { config } = archiveImage(operator.archive);
    expect(config).toMatchObject({
      config: {
        User: '65532:65532',
        Entrypoint: ['/usr/bin/tini', '--', '/usr/local/bin/node', '/app/dist/main.js'],
      },
    });
    for (const p of ['usr/local/bin/node', 'usr/bin/tini', 'usr/bin/pg_dump', 'app/dist/main.js', 'app/package.json']) {
      expect(files.has(p)).toBe(true);
    }
    const tools = [...files].filter(
      (f) =>
        /(^|\/)(npm|npx|corepack|yarn|yarnpkg)$/.test(f) ||
        /(^|\/)node_modules\/(npm|corepack)(\/|$)/.test(f) ||
        /^opt\/yarn/.test(f),
    );
    expect(tools).toEqual([]);
  });

  test('nothing from the build is left behind: no npm settings, CA copy, sources or caches', () => {
    const leftovers = [...files].filter(
      (f) =>
        /(^|\/)\.?npmrc$/.test(f) ||
        f.startsWith('usr/local/etc/') ||
        f.startsWith('root/.npm') ||
        f.startsWith('app/src') ||
        f.startsWith('src/') ||
        f === 'app/package-lock.json' ||
        (f.startsWith('var/lib/apt/lists/') && !f.endsWith('/partial') && !f.endsWith('lists/lock')),
    );
    expect(leftovers).toEqual([]);
  });

  test('node_modules holds exactly what src/ imports, with its dependencies', () => {
    const roots = new Set<string>();
    for (const f of sourceFiles(join(repoRoot, 'src'))) {
      for (const name of importedPackages(readFileSync(f, 'utf8'))) roots.add(name);
    }
    const expected = neededPackages([...roots], join(repoRoot, 'node_modules'));
    const inImage = new Set(
      [...files]
        .map((f) => /^app\/node_modules\/(@[^/]+\/[^/]+|[^@/.][^/]*)$/.exec(f)?.[1])
        .filter((x): x is string => !!x),
    );
    expect([...inImage].sort()).toEqual([...expected].sort());
    // what package.json declares but src/ never imports is not there
    const declared = Object.keys(
      (JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { dependencies: Record<string, string> })
        .dependencies,
    );
    for (const dep of declared.filter((d) => !expected.has(d))) expect(inImage.has(dep)).toBe(false);
  });

  test('the stand-in: one tag per behaviour, node and the bundle only (no shell), non-root', () => {
    const standins = images.filter((i) => i.ref.startsWith('localhost/smartcloudops/standin:'));
    expect(standins.map((i) => i.ref.split(':')[1]).sort()).toEqual(
      ['1.0.0', '1.1.0', '1.1.0-crash', '1.1.0-errors', '1.1.0-notready', '1.1.0-slow', '1.2.0'].sort(),
    );
    for (const e of standins) {
      const { config } = archiveImage(e.archive) as unknown as { config: { config: Record<string, unknown> } };
      expect(config.config.Env).toContain(`STANDIN_VERSION=${e.ref.split(':')[1]}`);
      expect(config.config).toMatchObject({
        User: '65532:65532',
        Entrypoint: ['/usr/local/bin/node', '/app/standin.cjs'],
        ExposedPorts: { '5000/tcp': {}, '3000/tcp': {} },
      });
      expect(config.config.Cmd ?? []).toEqual([]);
    }
    const fs = imageFiles(standins[0]!.archive);
    for (const p of ['app/standin.cjs', 'usr/local/bin/node', 'lib64/ld-linux-x86-64.so.2', 'tmp', 'etc/passwd']) {
      expect(fs.has(p)).toBe(true);
    }
    expect([...fs].filter((f) => /(^|\/)(sh|bash|dash|apt|dpkg)$/.test(f))).toEqual([]);
  });
});
