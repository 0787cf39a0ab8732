// Runtime dependencies are what src/ imports (the image prunes devDependencies): a runtime dependency nothing in
// src/ imports is dead weight in the image, and a devDependency that src/ imports crashes the image at start.
import { describe, expect, test } from '@jest/globals';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
};

/** Runtime dependencies whose importer is being written on another branch (none now). */
const PENDING: Record<string, string> = {};

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return e.name === 'testdata' ? [] : sources(p);
    return e.name.endsWith('.ts') && !e.name.endsWith('.test.ts') ? [p] : [];
  });
}

/** Packages imported at run time (type-only imports are erased and do not count). */
function runtimeImports(): Set<string> {
  const found = new Set<string>();
  for (const file of sources(join(root, 'src'))) {
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(/^\s*import\s+(?!type\s)[^;]*?from\s+'([^']+)'|import\(\s*'([^']+)'\s*\)/gm)) {
      const spec = (m[1] ?? m[2]) as string;
      if (spec.startsWith('.') || spec.startsWith('node:')) continue;
      const parts = spec.split('/');
      found.add(spec.startsWith('@') ? parts.slice(0, 2).join('/') : (parts[0] as string));
    }
  }
  return found;
}

describe('package.json dependencies', () => {
  const imported = runtimeImports();

  test('every runtime dependency is imported by src/ (or its importer is pending on another branch)', () => {
    const unused = Object.keys(pkg.dependencies).filter((d) => !imported.has(d) && !(d in PENDING));
    expect(unused).toEqual([]);
    expect(imported.has('pino')).toBe(true); // the scan does find imports
  });

  test('src/ imports no devDependency and nothing undeclared', () => {
    expect([...imported].filter((d) => d in pkg.devDependencies)).toEqual([]);
    expect([...imported].filter((d) => !(d in pkg.dependencies))).toEqual([]);
  });
});
