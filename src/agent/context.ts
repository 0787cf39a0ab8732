// What every command gets from the entry point: environment, logger, clock, the termination signal, and a hook that
// reports child processes (tests use it to kill pg_dump at a chosen moment).
import type { Logger } from 'pino';

export interface AgentContext {
  env: NodeJS.ProcessEnv;
  log: Logger;
  now: () => Date;
  /** Aborted when the agent is told to stop (SIGTERM/SIGINT); every stage is torn down and the run fails. */
  signal: AbortSignal;
  agentVersion: string;
  onChild?: (tool: string, pid: number) => void;
}
