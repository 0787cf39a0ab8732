// Typed errors for Kubernetes API responses. Controllers branch on these (NotFound, Conflict, Invalid...) instead
// of on HTTP details.

/** The parsed `Status` body the API server sends with an error response. */
export interface ApiStatus {
  kind?: 'Status';
  status?: string;
  message?: string;
  reason?: string;
  code?: number;
  details?: {
    name?: string;
    kind?: string;
    causes?: { reason?: string; message?: string; field?: string }[];
    retryAfterSeconds?: number;
  };
}

export class KubeApiError extends Error {
  readonly code: number;
  readonly reason: string;
  readonly status: ApiStatus;
  readonly verb: string;
  readonly path: string;

  constructor(verb: string, path: string, code: number, status: ApiStatus) {
    super(`${verb} ${path}: ${code} ${status.reason ?? ''}${status.message ? `: ${status.message}` : ''}`.trim());
    this.name = 'KubeApiError';
    this.code = code;
    this.reason = status.reason ?? '';
    this.status = status;
    this.verb = verb;
    this.path = path;
  }
}

/** A transport failure: the request never got an HTTP response (connection refused, reset, timeout). */
export class KubeTransportError extends Error {
  readonly verb: string;
  readonly path: string;
  constructor(verb: string, path: string, cause: Error) {
    super(`${verb} ${path}: ${cause.message}`, { cause });
    this.name = 'KubeTransportError';
    this.verb = verb;
    this.path = path;
  }
}

export const isNotFound = (e: unknown): boolean => e instanceof KubeApiError && e.code === 404;
export const isConflict = (e: unknown): boolean =>
  e instanceof KubeApiError && e.code === 409 && e.reason !== 'AlreadyExists';
export const isAlreadyExists = (e: unknown): boolean => e instanceof KubeApiError && e.reason === 'AlreadyExists';
export const isInvalid = (e: unknown): boolean => e instanceof KubeApiError && e.code === 422;
export const isGone = (e: unknown): boolean => e instanceof KubeApiError && (e.code === 410 || e.reason === 'Expired');
export const isForbidden = (e: unknown): boolean => e instanceof KubeApiError && e.code === 403;
