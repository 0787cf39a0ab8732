// JSON logs (pino). Secret values never reach a log line: known secret-bearing paths are redacted, and Secret
// objects are never logged whole (controllers log names, not data).
import { pino, type Logger as PinoLogger, type LevelWithSilent } from 'pino';

export type Logger = PinoLogger;

export const REDACT_PATHS = [
  'password',
  '*.password',
  'token',
  '*.token',
  'secretAccessKey',
  '*.secretAccessKey',
  'authorization',
  '*.authorization',
  'headers.authorization',
  'data',
  '*.data',
  'stringData',
  '*.stringData',
  'spec.env[*].value',
];

export function createLogger(level: LevelWithSilent = 'info', destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: { logger: 'smartcloudops-operator' },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: REDACT_PATHS, censor: '[REDACTED]' },
      formatters: { level: (label) => ({ level: label }) },
    },
    destination,
  );
}
