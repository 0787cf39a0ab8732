// npm run cluster:up | cluster:down | cluster:status
//   up [--only=GROUPS] [--no-build]             start (idempotent; a running cluster is left alone); GROUPS is a
//                                               comma-separated list of cluster, node (the real node), services,
//                                               monitoring (Prometheus)
//                                               certmanager
//   down                                        stop exactly what up started, wipe per-run data
//   status                                      each component's process and health; exit 1 when not all healthy
import { ALL_GROUPS, down, status, up, type Group } from './cluster.js';
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
      throw new ClusterError(
        `unknown flag --${k} (known: --only=cluster,node,services,monitoring,certmanager, --no-build)`,
      );
  }
  switch (cmd) {
    case 'up': {
      const only = flags.get('only')?.split(',');
      const bad = only?.filter((g) => !ALL_GROUPS.includes(g as Group));
      if (bad?.length) {
        throw new ClusterError(
          `--only takes a comma-separated list of ${ALL_GROUPS.join(', ')}; not "${bad.join(',')}"`,
        );
      }
      await up({ groups: only as Group[] | undefined, build: !flags.has('no-build') });
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
          `${mark} ${c.name.padEnd(24)} ${c.pid === undefined && c.running ? 'configured' : c.running ? `pid ${c.pid}` : 'stopped'}${c.detail ? `  ${c.detail}` : ''}`,
        );
      }
      return s.components.every((c) => c.healthy) ? 0 : 1;
    }
    default:
      throw new ClusterError(
        `usage: cli.ts up [--only=cluster,node,services,monitoring,certmanager] [--no-build] | down | status (got "${cmd ?? ''}")`,
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
