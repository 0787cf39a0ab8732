// A TCP forwarder on the real node's bridge address (an address of this machine) to a loopback port: how pods on the
// real node reach the services the tooling runs on 127.0.0.1 (PostgreSQL, Redis, S3). Nothing leaves the machine.
import net from 'node:net';
import { BRIDGE_IP } from './netcfg.js';
export { BRIDGE_IP };

export interface Forwarder {
  /** The port it listens on at BRIDGE_IP. */
  port: number;
  /** Stops listening and resets every connection. */
  close(): void;
}

/** Forwards BRIDGE_IP:`port` (0: any free one) to 127.0.0.1:`targetPort`. */
export function forwardOnBridge(targetPort: number, port = 0): Promise<Forwarder> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((c) => {
    const u = net.connect(targetPort, '127.0.0.1');
    sockets.add(c).add(u);
    c.pipe(u).pipe(c);
    const end = () => {
      c.destroy();
      u.destroy();
      sockets.delete(c);
      sockets.delete(u);
    };
    c.on('error', end).on('close', end);
    u.on('error', end).on('close', end);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, BRIDGE_IP, () =>
      resolve({
        port: (server.address() as net.AddressInfo).port,
        close: () => {
          for (const s of sockets) s.destroy();
          server.close();
        },
      }),
    );
  });
}
