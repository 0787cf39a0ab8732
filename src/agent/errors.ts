// Failure classes of the backup agent. Every failure the agent can detect ends in one AgentFailure with a specific
// CamelCase reason (what the controller records in status.lastFailedBackup.reason) and the exit code of its class,
// so a caller that sees only the Job's exit code still knows which kind of thing went wrong.
//
//   0  Succeeded
//   1  Internal            an unexpected error (a bug); the message says what
//   2  InvalidArguments    bad flags or environment
//   3  Database            DatabaseAuthFailed, DatabaseUnreachable, DatabaseNotFound, DatabaseError
//   4  Incompatible        ServerNewerThanPgDump, ServerTooOld, ToolNotFound
//   5  Dump                DumpFailed (pg_dump exited non-zero), DumpConnectionLost (the server went away or ended
//                          the session mid-dump), DumpKilled (pg_dump died of a signal), DumpEmpty, DumpIncomplete
//   6  Storage             BucketNotFound, StorageAccessDenied, StorageUnreachable, UploadFailed, ObjectNotFound,
//                          DownloadFailed
//   7  Verification        SizeMismatch, ChecksumMismatch, ArchiveInvalid, ManifestInvalid
//   8  TargetNotEmpty      restore into a database that has objects, without --clean
//   9  Restore             RestoreFailed (psql / pg_restore failed or was killed)
//  10  Terminated          the agent got SIGTERM/SIGINT (e.g. the Job's activeDeadlineSeconds)
//  11  Config              ConfigExportFailed (listing ConfigMaps/Secrets failed), ConfigAccessDenied (the service
//                          account may not list them), NamespaceNotFound
//  12  Data                DataDirUnreadable (a --data-dir path is missing or cannot be read)
//
// Also: EncryptionKeyInvalid (class InvalidArguments: the key file is not 32 bytes, 64 hex or base64 of 32 bytes),
// DecryptionFailed (class Verification: wrong key, or the encrypted object was altered or cut), PartNotFound
// (class InvalidArguments: the manifest has no such part).

export const EXIT_CODES = {
  Internal: 1,
  InvalidArguments: 2,
  Database: 3,
  Incompatible: 4,
  Dump: 5,
  Storage: 6,
  Verification: 7,
  TargetNotEmpty: 8,
  Restore: 9,
  Terminated: 10,
  Config: 11,
  Data: 12,
} as const;

export type FailureClass = keyof typeof EXIT_CODES;

const REASON_CLASS = {
  InternalError: 'Internal',
  InvalidArguments: 'InvalidArguments',
  EncryptionKeyInvalid: 'InvalidArguments',
  PartNotFound: 'InvalidArguments',
  DatabaseAuthFailed: 'Database',
  DatabaseUnreachable: 'Database',
  DatabaseNotFound: 'Database',
  DatabaseError: 'Database',
  ServerNewerThanPgDump: 'Incompatible',
  ServerTooOld: 'Incompatible',
  ToolNotFound: 'Incompatible',
  DumpFailed: 'Dump',
  DumpConnectionLost: 'Dump',
  DumpKilled: 'Dump',
  DumpEmpty: 'Dump',
  DumpIncomplete: 'Dump',
  BucketNotFound: 'Storage',
  StorageAccessDenied: 'Storage',
  StorageUnreachable: 'Storage',
  UploadFailed: 'Storage',
  ObjectNotFound: 'Storage',
  DownloadFailed: 'Storage',
  SizeMismatch: 'Verification',
  ChecksumMismatch: 'Verification',
  ArchiveInvalid: 'Verification',
  ManifestInvalid: 'Verification',
  DecryptionFailed: 'Verification',
  TargetNotEmpty: 'TargetNotEmpty',
  RestoreFailed: 'Restore',
  Terminated: 'Terminated',
  ConfigExportFailed: 'Config',
  ConfigAccessDenied: 'Config',
  NamespaceNotFound: 'Config',
  DataDirUnreadable: 'Data',
} as const satisfies Record<string, FailureClass>;

export type FailureReason = keyof typeof REASON_CLASS;

export const FAILURE_REASONS = Object.keys(REASON_CLASS) as FailureReason[];

export function exitCodeOf(reason: FailureReason): number {
  return EXIT_CODES[REASON_CLASS[reason]];
}

export class AgentFailure extends Error {
  override readonly name = 'AgentFailure';
  constructor(
    readonly reason: FailureReason,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
  get exitCode(): number {
    return exitCodeOf(this.reason);
  }
}

export const isAgentFailure = (err: unknown): err is AgentFailure => err instanceof AgentFailure;
