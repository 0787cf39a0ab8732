// npm test: runs the unit, integration and e2e suites in one jest run.
//
// Without KUBECONFIG it brings up the local cluster (with the real node) and data services (building the binaries when the pins changed)
// and, if it started them, stops them afterwards (SCO_KEEP_CLUSTER=1 keeps them). With KUBECONFIG set, the e2e
// suite runs against that cluster (e.g. kind) and only the data services are started locally.
// Extra arguments go to jest, e.g. `npm test -- --selectProjects unit` or `npm test -- test/e2e/harness.test.ts`.
// The last line is "tests: N passed, N failed, N skipped".
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { defaultGroups, down, readState, up, type Group } from './cluster/cluster.js';
import { layout, repoRoot } from './cluster/config.js';
import { nodeLeftovers } from './cluster/node.js';
import { ClusterError } from './cluster/proc.js';

interface JestJson {
  numPassedTests: number;
  numFailedTests: number;
  numPendingTests: number;
  numTodoTests: number;
  numRuntimeErrorTestSuites: number;
  numFailedTestSuites: number;
}

async function main(args: string[]): Promise<number> {
  const needsCluster = !process.env.KUBECONFIG;
  // The local cluster includes the real node: if it cannot start, the run fails (no fallback to kwok-only).
  const groups: Group[] = needsCluster ? defaultGroups() : ['services'];
  const started = await up({ groups });
  const keep = process.env.SCO_KEEP_CLUSTER === '1';
  const resultsDir = join(repoRoot, '.test-results');
  mkdirSync(resultsDir, { recursive: true });
  const out = join(resultsDir, 'jest.json');
  rmSync(out, { force: true });
  let code: number;
  let teardownFailed = false;
  try {
    code = await new Promise<number>((resolve) => {
      const child = spawn(
        process.execPath,
        [
          '--experimental-vm-modules',
          '--disable-warning=ExperimentalWarning',
          join(repoRoot, 'node_modules/jest/bin/jest.js'),
          '--json',
          `--outputFile=${out}`,
          ...args,
        ],
        {
          stdio: 'inherit',
          cwd: repoRoot,
          env: process.env,
        },
      );
      child.on('exit', (c, sig) => resolve(c ?? (sig ? 128 : 1)));
    });
  } finally {
    if (started && !keep) {
      console.log('stopping the cluster and services this run started (SCO_KEEP_CLUSTER=1 keeps them)');
      const binDir = readState(layout())?.binDir;
      await down({ log: () => undefined });
      if (groups.includes('node')) {
        // The teardown proof for the suite's own real node: nothing of it may be left on the machine.
        const left = nodeLeftovers(layout(), binDir);
        if (left.length) {
          console.log(`the real node's teardown left:\n  ${left.join('\n  ')}`);
          teardownFailed = true;
        } else {
          console.log('real node torn down: no process, mount, link, route, chain, cgroup or file left');
        }
      }
    }
  }
  let summary: JestJson | undefined;
  try {
    summary = JSON.parse(readFileSync(out, 'utf8')) as JestJson;
  } catch {
    console.log('tests: 0 passed, 1 failed (jest wrote no results)');
    return code || 1;
  }
  const failed = summary.numFailedTests + summary.numRuntimeErrorTestSuites;
  const skipped = summary.numPendingTests + summary.numTodoTests;
  console.log(`tests: ${summary.numPassedTests} passed, ${failed} failed, ${skipped} skipped`);
  if (summary.numPassedTests === 0 && code === 0) {
    console.log('no test ran');
    return 1;
  }
  return code || (teardownFailed ? 1 : 0);
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err instanceof ClusterError ? `error: ${err.message}` : err);
    process.exit(1);
  },
);
