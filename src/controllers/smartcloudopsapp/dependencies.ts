// SCAFFOLD (this session's split of the work): the dependency checks' branch replaces this file entirely.
// It only lets the capability compile against the contract while the real runner is built.
import type { CreateDependencySource } from './contracts.js';

export const createDependencySource: CreateDependencySource = () => ({
  observe: () => ({ checks: [] }),
  forget: () => undefined,
  stop: async () => undefined,
});
