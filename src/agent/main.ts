#!/usr/bin/env node
// Entry point of the backup/restore agent that runs inside backup Jobs (the operator's own image):
//   smartcloudops-agent backup|restore|verify [flags]
// SIGTERM/SIGINT (the Job's deadline, a deleted pod) stop every stage and end the run as Terminated (exit 10); the
// result line is still written. The result line also goes to /dev/termination-log (TERMINATION_LOG_PATH) when
// that file exists and is writable (run.ts).
import { runAgent } from './run.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const controller = new AbortController();
for (const sig of ['SIGTERM', 'SIGINT'] as const) process.once(sig, () => controller.abort());

const code = await runAgent(process.argv.slice(2), {
  env: process.env,
  out: (line) => process.stdout.write(`${line}\n`),
  signal: controller.signal,
  terminationLog: process.env.TERMINATION_LOG_PATH ?? '/dev/termination-log',
});
process.exitCode = code;
// Let stdout drain, then exit even if an SDK socket keeps the loop alive.
process.stdout.write('', () => setImmediate(() => process.exit(code)));
