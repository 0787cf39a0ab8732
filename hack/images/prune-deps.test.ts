import { afterEach, beforeEach, describe, expect, test } from '@jest/globals';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { importedPackages, packageName, prune, topLevelPackages } from './prune-deps.js';

describe('import specifiers', () => {
  test('bare specifiers name packages; relative paths, node: and built-ins do not', () => {
    expect(packageName('pino')).toBe('pino');
    expect(packageName('@scope/pkg/sub/path.js')).toBe('@scope/pkg');
    expect(packageName('yaml/util')).toBe('yaml');
    for (const s of ['./x.js', '../y', '/abs', 'node:fs', 'fs', 'path/posix', 'data:text/javascript,1']) {
      expect(packageName(s)).toBeUndefined();
    }
  });

  test('static, side-effect, dynamic imports, re-exports and require()', () => {
    const src = `
      import a from 'alpha';
      import { b } from "@beta/core/sub";
      import type { T } from 'typed-only';
      export * from 'gamma';
      export { d } from 'delta/x';
      import 'side-effect';
      const e = await import('epsilon');
      const f = require('zeta');
      import { g } from './local.js';
      import fs from 'node:fs';`;
    expect(importedPackages(src)).toEqual([
      '@beta/core',
      'alpha',
      'delta',
      'epsilon',
      'gamma',
      'side-effect',
      'typed-only',
      'zeta',
    ]);
  });
});

describe('pruning node_modules to what dist imports', () => {
  let dir: string;
  const pkg = (path: string, deps: Record<string, Record<string, string>> = {}) => {
    mkdirSync(path, { recursive: true });
    writeFileSync(join(path, 'package.json'), JSON.stringify({ name: path.split('node_modules/').pop(), ...deps }));
  };
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'prune-'));
    const nm = join(dir, 'node_modules');
    mkdirSync(join(dir, 'dist', 'sub'), { recursive: true });
    writeFileSync(join(dir, 'dist', 'main.js'), "import a from 'a';\nconst c = await import('@s/c');\n");
    writeFileSync(join(dir, 'dist', 'sub', 'x.js'), "export * from '../main.js';\n");
    pkg(join(nm, 'a'), { dependencies: { b: '1' }, optionalDependencies: { missing: '1' } });
    pkg(join(nm, 'b'));
    pkg(join(nm, '@s', 'c'), { peerDependencies: { d: '1' } });
    pkg(join(nm, '@s', 'c', 'node_modules', 'b')); // a nested copy: the top-level b is still needed through a
    pkg(join(nm, 'd'));
    pkg(join(nm, 'unused'), { dependencies: { 'unused-dep': '1' } });
    pkg(join(nm, 'unused-dep'));
    pkg(join(nm, '@gone', 'only'));
    mkdirSync(join(nm, '.bin'));
    symlinkSync('../a/cli.js', join(nm, '.bin', 'a'));
    symlinkSync('../unused/cli.js', join(nm, '.bin', 'unused'));
    writeFileSync(join(nm, 'a', 'cli.js'), '');
    writeFileSync(join(nm, 'unused', 'cli.js'), '');
    writeFileSync(join(nm, '.package-lock.json'), '{}');
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  test('keeps imported packages and everything they depend on; removes the rest and their bin links', () => {
    const nm = join(dir, 'node_modules');
    const { removed, kept } = prune(join(dir, 'dist'), nm);
    expect(kept).toEqual(['@s/c', 'a', 'b', 'd']);
    expect(removed).toEqual(['@gone/only', 'unused', 'unused-dep']);
    expect(topLevelPackages(nm)).toEqual(['@s/c', 'a', 'b', 'd']);
    expect(existsSync(join(nm, '@gone'))).toBe(false);
    expect(existsSync(join(nm, '@s', 'c', 'node_modules', 'b', 'package.json'))).toBe(true);
    expect(lstatSync(join(nm, '.bin', 'a')).isSymbolicLink()).toBe(true);
    expect(existsSync(join(nm, '.bin', 'unused'))).toBe(false);
    expect(existsSync(join(nm, '.package-lock.json'))).toBe(false);
  });

  test('an imported package that is not installed is an error naming it', () => {
    writeFileSync(join(dir, 'dist', 'main.js'), "import x from 'not-installed';\n");
    expect(() => prune(join(dir, 'dist'), join(dir, 'node_modules'))).toThrow(
      /not-installed is imported but not installed/,
    );
  });
});
