// The isolation guards of a DR drill that no spec can configure away (pure; the drill capability does the I/O):
//   - the DR namespace is derived from the drill, never chosen: "<namespace>-dr-<hash of namespace/name>";
//   - the operator creates it labelled with the drill's uid, and deletes it only when it carries that label AND the
//     drill's status recorded it as created by this drill; a namespace that exists without our label is refused;
//   - the restore target is proven not to be production by the server's system identifier and the database's oid
//     and name as the servers report them (two connection strings can name one database);
// Integrity queries are the other guard (integrity.ts): read-only role, READ ONLY transaction, one statement.
import { createHash } from 'node:crypto';
import type { KubeObject } from '../../kube/index.js';

export const DRILL_UID_LABEL = 'ops.smartcloudops.ai/drill-uid';
export const DRILL_NAME_LABEL = 'ops.smartcloudops.ai/drill';
export const DRILL_NAMESPACE_LABEL = 'ops.smartcloudops.ai/drill-namespace';

/** Namespaces a drill never creates, uses or deletes, whatever its name hashes to. */
export const PROTECTED_NAMESPACES = ['default', 'kube-system', 'kube-public', 'kube-node-lease', 'argocd'];

const hash8 = (s: string) => createHash('sha256').update(s).digest('hex').slice(0, 8);

/** The DR namespace of a drill: its namespace (shortened to fit), "-dr-", 8 hex of sha256("namespace/name"). */
export function drNamespaceFor(namespace: string, name: string): string {
  const suffix = `-dr-${hash8(`${namespace}/${name}`)}`;
  return `${namespace.slice(0, 63 - suffix.length).replace(/-+$/, '')}${suffix}`;
}

/** The labels the operator puts on a DR namespace it creates. */
export function drNamespaceLabels(drill: { namespace: string; name: string; uid: string }): Record<string, string> {
  return {
    'app.kubernetes.io/managed-by': 'smartcloudops-operator',
    [DRILL_UID_LABEL]: drill.uid,
    [DRILL_NAME_LABEL]: drill.name.slice(0, 63),
    [DRILL_NAMESPACE_LABEL]: drill.namespace,
  };
}

export type NamespaceVerdict =
  | { action: 'create' }
  | { action: 'use' }
  | { action: 'refuse'; reason: 'NamespaceProtected' | 'NamespaceNotOwned' | 'NamespaceTerminating'; message: string };

/**
 * What a drill may do with its DR namespace as the cache shows it (`existing` undefined: absent). Only a namespace
 * labelled with this drill's uid is used; anything else is refused and never touched.
 */
export function namespaceVerdict(
  drNamespace: string,
  existing: KubeObject | undefined,
  drill: { namespace: string; uid: string },
  operatorNamespace?: string,
): NamespaceVerdict {
  if (
    drNamespace === drill.namespace ||
    drNamespace === operatorNamespace ||
    PROTECTED_NAMESPACES.includes(drNamespace)
  )
    return {
      action: 'refuse',
      reason: 'NamespaceProtected',
      message: `namespace ${drNamespace} is the drill's own, the operator's or a system namespace`,
    };
  if (!existing) return { action: 'create' };
  if (existing.metadata.labels?.[DRILL_UID_LABEL] !== drill.uid)
    return {
      action: 'refuse',
      reason: 'NamespaceNotOwned',
      message: `namespace ${drNamespace} exists and was not created by this drill (no ${DRILL_UID_LABEL}=${drill.uid} label); it is left untouched`,
    };
  if (existing.metadata.deletionTimestamp)
    return {
      action: 'refuse',
      reason: 'NamespaceTerminating',
      message: `namespace ${drNamespace} is still being deleted from an earlier run`,
    };
  return { action: 'use' };
}

/** A namespace may be deleted only when it carries this drill's uid label AND the drill recorded creating it. */
export function mayDeleteNamespace(
  existing: KubeObject | undefined,
  drillUid: string,
  recorded: readonly string[],
): boolean {
  if (!existing) return false;
  const name = existing.metadata.name as string;
  return existing.metadata.labels?.[DRILL_UID_LABEL] === drillUid && recorded.includes(name);
}

/** A database as its server reports it (pg_control_system(), pg_database), not as a connection string names it. */
export interface DatabaseIdentity {
  systemIdentifier: string;
  databaseOid: number;
  database: string;
}

export const IDENTITY_SQL =
  'SELECT (SELECT system_identifier::text FROM pg_control_system()) AS system_identifier, d.oid::int AS database_oid, d.datname AS database FROM pg_database d WHERE d.datname = current_database()';

export type TargetVerdict = { ok: true } | { ok: false; reason: 'TargetIsProduction'; message: string };

/**
 * The restore target is not production: another server (system identifier), or on the same server another
 * database by oid and by name. A streaming replica shares its primary's identifier: it counts as the same server.
 */
export function provenNotProduction(production: DatabaseIdentity, target: DatabaseIdentity): TargetVerdict {
  if (production.systemIdentifier !== target.systemIdentifier) return { ok: true };
  if (production.databaseOid !== target.databaseOid && production.database !== target.database) return { ok: true };
  return {
    ok: false,
    reason: 'TargetIsProduction',
    message: `the restore target is the production database (server ${target.systemIdentifier}, database ${target.database}, oid ${target.databaseOid}); a drill never restores into production`,
  };
}

/** The name of the database a run restores into: created by the drill, dropped at clean-up. */
export function drDatabaseFor(namespace: string, name: string, runId: string): string {
  return `scodr_${hash8(`${namespace}/${name}`)}_${runId
    .toLowerCase()
    .replace(/[^a-z0-9]/g, '')
    .slice(0, 24)}`;
}
