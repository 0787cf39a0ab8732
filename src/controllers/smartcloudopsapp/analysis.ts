// SCAFFOLD (this session's split of the work): the analysis branch replaces this file entirely.
import type { CreateAnalysisSource } from './contracts.js';

export const createAnalysisSource: CreateAnalysisSource = () => ({
  observe: (app) =>
    app.spec.rollout?.analysis
      ? { state: 'Unknown', reason: 'NotBuilt', message: 'analysis is not built yet' }
      : { state: 'NotConfigured', reason: 'NotConfigured', message: 'no spec.rollout.analysis' },
  forget: () => undefined,
  stop: async () => undefined,
});
