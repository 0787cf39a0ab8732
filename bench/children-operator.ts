// The operator process of the children benchmark: the real Manager and seam with the bench capability only
// (bench/children-app.ts). Bundled by bench/children.ts; the process itself is bench/operator-process.ts.
import { benchCapability } from './children-app.js';
import { runBenchOperator } from './operator-process.js';

void runBenchOperator([benchCapability()]);
