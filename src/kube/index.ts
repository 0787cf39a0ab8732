export * from './client.js';
export * from './errors.js';
export * from './ratelimit.js';
export * from './resources.js';
export * from './types.js';
