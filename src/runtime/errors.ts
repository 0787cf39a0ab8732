// Errors a reconciler can return to steer the work queue.

/** Retrying cannot help (e.g. an invalid spec): log it, record it, and wait for the object to change. */
export class TerminalError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'TerminalError';
  }
}

export const isTerminal = (e: unknown): e is TerminalError => e instanceof TerminalError;
