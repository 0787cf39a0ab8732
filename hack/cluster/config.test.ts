import { describe, expect, test } from '@jest/globals';
import { PORTS, resolvePorts } from './config.js';

describe('resolvePorts', () => {
  test('defaults are distinct', () => {
    const ports = Object.values(resolvePorts({}));
    expect(new Set(ports).size).toBe(PORTS.length);
  });
  test('an override replaces one port', () => {
    expect(resolvePorts({ SCO_PORT_APISERVER: '7443' }).apiserver).toBe(7443);
  });
  test.each(['abc', '80', '70000', '1.5'])('rejects %s with a message naming the variable', (raw) => {
    expect(() => resolvePorts({ SCO_PORT_REDIS: raw })).toThrow(
      `SCO_PORT_REDIS=${raw} is not a valid port for Redis (an integer from 1024 to 65535)`,
    );
  });
});
