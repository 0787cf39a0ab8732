// A daemon for the demo: forwards BRIDGE_IP:<port> → 127.0.0.1:<port> for each port given, so that pods on the real
// node reach the PostgreSQL and S3 the tooling runs on the loopback (an address of this machine: nothing leaves it).
// Started by hack/demo.ts and recorded with the cluster, so `npm run cluster:down` stops it.
//   tsx hack/bridge-forward.ts 15432 17070
import { forwardOnBridge } from './cluster/bridge.js';

const ports = process.argv.slice(2).map(Number);
if (!ports.length || ports.some((p) => !Number.isInteger(p) || p < 1 || p > 65535)) {
  console.error('usage: tsx hack/bridge-forward.ts <port> [<port> …]');
  process.exit(2);
}
const forwarders = await Promise.all(ports.map((p) => forwardOnBridge(p, p)));
console.log(`forwarding ${ports.map((p) => `bridge:${p} → 127.0.0.1:${p}`).join(', ')}`);
const stop = () => {
  for (const f of forwarders) f.close();
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
