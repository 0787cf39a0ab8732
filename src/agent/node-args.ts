// How to start the agent: `node ${AGENT_NODE_ARGS} dist/agent/main.js backup …` with AGENT_ENV in its environment
// (what the backup Jobs run, and what bench/backup.ts measures).
// --max-semi-space-size=1: the agent's JS heap is small and short-lived data is stream chunks, so a 2x1 MiB young
// generation is enough; measured with a 50 MB gzip dump (bench/backup.ts, 257 MiB database): peak RSS 110 MiB with the
// operator's 8 MiB semi-spaces, 97 MiB with 1 MiB, same wall time. It must be given at process start, and on the
// command line it takes precedence over the image's NODE_OPTIONS (--max-semi-space-size=8, for the operator).
export const AGENT_NODE_ARGS = ['--max-semi-space-size=1'];

// MALLOC_ARENA_MAX=1: one glibc malloc arena for all of the agent's threads. Node runs ~9 threads (4 libuv workers for
// zlib and fs, V8's platform workers for GC, the main thread); glibc gives each thread that allocates an arena of its
// own, and memory freed into one arena is not reused by another nor returned while anything above it is live: with
// stream chunks allocated and freed at tens of MiB/s this kept 5–9 MiB more resident (335 MiB database, three runs each
// way, same wall time: plain backup 95.8–101.0 → 91.2–92.6 MiB). The agent's threads hardly allocate concurrently,
// so one arena costs no speed. glibc reads it at process start: it is the Job container's environment.
export const AGENT_ENV: Readonly<Record<string, string>> = { MALLOC_ARENA_MAX: '1' };
