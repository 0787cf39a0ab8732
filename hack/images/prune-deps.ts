// Removes from node_modules every top-level package that the compiled code never imports, neither directly nor
// through the declared dependencies (dependencies, optionalDependencies, installed peerDependencies) of what it
// imports, resolved the way Node resolves them (nearest node_modules upwards). Runs inside the image build, after
// `npm prune --omit=dev` (Node 22 runs this file by stripping its types: erasable TypeScript, node: imports only):
//   node hack/images/prune-deps.ts <dist dir> <node_modules dir>
import { existsSync, lstatSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const builtins = new Set(builtinModules);

/** The package a bare import specifier names ('@scope/name/sub' → '@scope/name'); undefined for relative paths,
 * absolute paths, URLs and Node built-ins. */
export function packageName(spec: string): string | undefined {
  if (spec.startsWith('.') || spec.startsWith('/') || spec.startsWith('node:') || /^[a-z]+:/i.test(spec)) return;
  const parts = spec.split('/');
  const name = spec.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
  if (!name || builtins.has(name)) return;
  return name;
}

/** Package names imported by one ES module or CommonJS source: static imports and re-exports, side-effect
 * imports, dynamic import() and require() with a string literal. */
export function importedPackages(source: string): string[] {
  const found = new Set<string>();
  const patterns = [
    /\b(?:import|export)\s[^'"`;]*?\bfrom\s*['"]([^'"]+)['"]/g,
    /\bimport\s*['"]([^'"]+)['"]/g,
    /\b(?:import|require)\s*\(\s*['"]([^'"]+)['"]\s*\)/g,
  ];
  for (const re of patterns) {
    for (const m of source.matchAll(re)) {
      const name = packageName(m[1] ?? '');
      if (name) found.add(name);
    }
  }
  return [...found].sort();
}

interface PackageJson {
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
}

/** The package directory `name` resolves to from `fromDir`, searching node_modules upwards but not above `top`
 * (the node_modules directory being pruned). */
export function resolvePackage(fromDir: string, name: string, top: string): string | undefined {
  const stop = dirname(resolve(top));
  for (let dir = resolve(fromDir); ; dir = dirname(dir)) {
    const candidate = join(dir, 'node_modules', name);
    if (existsSync(join(candidate, 'package.json'))) return candidate;
    if (dir === stop || dir === dirname(dir)) return;
  }
}

/** Top-level entries of `nodeModules` ('pino', '@aws-sdk/client-s3') needed by `roots`, with everything they
 * depend on. */
export function neededPackages(roots: string[], nodeModules: string): Set<string> {
  const top = resolve(nodeModules);
  const needed = new Set<string>();
  const seen = new Set<string>();
  const visit = (dir: string) => {
    if (seen.has(dir)) return;
    seen.add(dir);
    if (dirname(dir) === top || dirname(dirname(dir)) === top) {
      const rel = dir.slice(top.length + 1);
      if (!rel.includes('/node_modules/')) needed.add(rel);
    }
    const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as PackageJson;
    const deps = new Set([
      ...Object.keys(pkg.dependencies ?? {}),
      ...Object.keys(pkg.optionalDependencies ?? {}),
      ...Object.keys(pkg.peerDependencies ?? {}),
    ]);
    for (const d of deps) {
      const found = resolvePackage(dir, d, top);
      if (found) visit(found);
    }
  };
  for (const name of roots) {
    const found = resolvePackage(dirname(top), name, top);
    if (!found) throw new Error(`prune-deps: ${name} is imported but not installed in ${top}`);
    visit(found);
  }
  return needed;
}

function* walk(dir: string): Generator<string> {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    if (entry.isDirectory()) yield* walk(p);
    else if (/\.(c|m)?js$/.test(entry.name)) yield p;
  }
}

/** Top-level entries of a node_modules directory: 'name' and '@scope/name'. */
export function topLevelPackages(nodeModules: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(nodeModules)) {
    if (entry.startsWith('.')) continue;
    if (entry.startsWith('@')) {
      for (const sub of readdirSync(join(nodeModules, entry))) out.push(`${entry}/${sub}`);
    } else out.push(entry);
  }
  return out.sort();
}

/** Deletes what `dist` does not need; returns the removed and kept top-level packages. */
export function prune(dist: string, nodeModules: string): { removed: string[]; kept: string[] } {
  const roots = new Set<string>();
  for (const file of walk(dist)) for (const name of importedPackages(readFileSync(file, 'utf8'))) roots.add(name);
  const needed = neededPackages([...roots], nodeModules);
  const removed: string[] = [];
  const kept: string[] = [];
  for (const name of topLevelPackages(nodeModules)) {
    if (needed.has(name)) {
      kept.push(name);
      continue;
    }
    rmSync(join(nodeModules, name), { recursive: true, force: true });
    removed.push(name);
  }
  for (const entry of readdirSync(nodeModules)) {
    const scope = join(nodeModules, entry);
    if (entry.startsWith('@') && readdirSync(scope).length === 0) rmSync(scope, { recursive: true });
  }
  // npm's hidden lockfile would still list the removed packages; dangling bin links point at them.
  rmSync(join(nodeModules, '.package-lock.json'), { force: true });
  const bin = join(nodeModules, '.bin');
  if (existsSync(bin)) {
    for (const link of readdirSync(bin)) {
      const p = join(bin, link);
      if (lstatSync(p).isSymbolicLink() && !existsSync(p)) rmSync(p);
    }
    if (readdirSync(bin).length === 0) rmSync(bin, { recursive: true });
  }
  return { removed, kept };
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const [dist, nodeModules] = process.argv.slice(2);
  if (!dist || !nodeModules || !statSync(dist).isDirectory() || !statSync(nodeModules).isDirectory()) {
    console.error('usage: prune-deps.ts <dist dir> <node_modules dir>');
    process.exit(2);
  }
  const { removed, kept } = prune(dist, nodeModules);
  console.log(`prune-deps: kept ${kept.length} packages; removed ${removed.length}: ${removed.join(' ') || '-'}`);
}
