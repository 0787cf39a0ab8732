// npm run cluster:up | cluster:down | cluster:status
//   up [--only=cluster|services] [--no-build]   start (idempotent; a running cluster is left alone)
//   down                                        stop exactly what up started, wipe per-run data
//   status                                      each component's process and health; exit 1 when not all healthy
import { down, status, up, type Group } from './cluster.js';
import { ClusterError } from './proc.js';

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  const flags = new Map(
    rest.map((a) => {
      const [k, v] = a.replace(/^--/, '').split('=');
      return [k as string, v ?? 'true'] as const;
    }),
  );
  for (const k of flags.keys()) {
    if (!['only', 'no-build'].includes(k))
      throw new ClusterError(`unknown flag --${k} (known: --only=cluster|services, --no-build)`);
  }
  switch (cmd) {
    case 'up': {
      const only = flags.get('only');
      if (only && only !== 'cluster' && only !== 'services') {
        throw new ClusterError(`--only must be "cluster" or "services", not "${only}"`);
      }
      await up({ groups: only ? [only as Group] : undefined, build: !flags.has('no-build') });
      return 0;
    }
    case 'down':
      await down();
      return 0;
    case 'status': {
      const s = await status();
      if (s.components.length === 0) {
        console.log(`not running (no cluster recorded in ${s.dir})`);
        return 1;
      }
      for (const c of s.components) {
        const mark = c.healthy ? '✓' : '✗';
        console.log(
          `${mark} ${c.name.padEnd(24)} ${c.running ? `pid ${c.pid}` : 'stopped'}${c.detail ? `  ${c.detail}` : ''}`,
        );
      }
      return s.components.every((c) => c.healthy) ? 0 : 1;
    }
    default:
      throw new ClusterError(
        `usage: cli.ts up [--only=cluster|services] [--no-build] | down | status (got "${cmd ?? ''}")`,
      );
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    if (err instanceof ClusterError) {
      console.error(`error: ${err.message}`);
    } else {
      console.error(err);
    }
    process.exit(1);
  },
);
