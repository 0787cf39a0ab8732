// How to start the agent: `node ${AGENT_NODE_ARGS} dist/agent/main.js backup …` (what the backup Jobs should run).
// --max-semi-space-size=1: the agent's JS heap is small and short-lived data is stream chunks, so a 2x1 MiB young
// generation is enough; measured with a 50 MB gzip dump (bench/backup.ts, 257 MiB database): peak RSS 110 MiB with the
// operator's 8 MiB semi-spaces, 97 MiB with 1 MiB, same wall time. It must be given at process start, and on the
// command line it takes precedence over the image's NODE_OPTIONS (--max-semi-space-size=8, for the operator).
export const AGENT_NODE_ARGS = ['--max-semi-space-size=1'];
