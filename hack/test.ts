// npm test: runs the unit, integration and e2e suites in one jest run (plus, after the suite's real node is torn
// down, a second run of the node tooling suite on a node of its own: one real node fits on a machine).
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
  let code: number;
  let teardownFailed = false;
  let nodeTornDown = false;
  try {
    code = await runJest(args, out);
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
          nodeTornDown = true;
        }
      }
    }
  }
  const outs = [out];
  if (nodeTornDown && args.length === 0) {
    // One real node fits on a machine: while the suite's node ran, the node tooling suite could only check that a
    // second one is refused. Now that it is gone, the same suite proves up / second up / up after a crash / status /
    // down on a node of its own (isolated directory and ports).
    console.log(`second pass, with no real node running: ${NODE_TOOLING_SUITE}`);
    const second = join(resultsDir, 'jest-node-tooling.json');
    const c = await runJest([NODE_TOOLING_SUITE], second);
    code ||= c;
    outs.push(second);
  }
  let total = { passed: 0, failed: 0, skipped: 0 };
  for (const file of outs) {
    let summary: JestJson;
    try {
      summary = JSON.parse(readFileSync(file, 'utf8')) as JestJson;
    } catch {
      console.log(
        `tests: ${total.passed} passed, ${total.failed + 1} failed, ${total.skipped} skipped (jest wrote no results to ${file})`,
      );
      return code || 1;
    }
    total = {
      passed: total.passed + summary.numPassedTests,
      failed: total.failed + summary.numFailedTests + summary.numRuntimeErrorTestSuites,
      skipped: total.skipped + summary.numPendingTests + summary.numTodoTests,
    };
  }
  console.log(`tests: ${total.passed} passed, ${total.failed} failed, ${total.skipped} skipped`);
  if (total.passed === 0 && code === 0) {
    console.log('no test ran');
    return 1;
  }
  return code || (teardownFailed ? 1 : 0);
}

const NODE_TOOLING_SUITE = 'test/integration/cluster-tooling-node.test.ts';

/** One jest run (all three projects unless `args` narrow it); its results as JSON in `out`. */
function runJest(args: string[], out: string): Promise<number> {
  rmSync(out, { force: true });
  return new Promise<number>((resolve) => {
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
      { stdio: 'inherit', cwd: repoRoot, env: process.env },
    );
    child.on('exit', (c, sig) => resolve(c ?? (sig ? 128 : 1)));
  });
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err instanceof ClusterError ? `error: ${err.message}` : err);
    process.exit(1);
  },
);
