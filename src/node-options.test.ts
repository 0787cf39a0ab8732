import { describe, expect, test } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../hack/cluster/config.js';
import { OPERATOR_NODE_OPTIONS } from './node-options.js';

describe('node options', () => {
  test('the image and npm start run the operator with the measured V8 options', () => {
    expect(readFileSync(join(repoRoot, 'Dockerfile'), 'utf8')).toContain(`NODE_OPTIONS=${OPERATOR_NODE_OPTIONS} `);
    const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    expect(pkg.scripts.start).toBe(`NODE_OPTIONS=${OPERATOR_NODE_OPTIONS} node dist/main.js`);
  });
});
