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
    // Each side's end is passed on by pipe (end() after what is buffered is written), not cut short by a destroy: a
    // server that closes after its response (versitygw runs without keep-alive) must not lose the response's tail
    // still buffered here for a slow reader. (Suspected cause of a drill's restore download failing "aborted" in the
    // pod at 1 GiB, twice before this change, not since; not reproduced on the host.)
    c.pipe(u);
    u.pipe(c);
    const reset = () => {
      c.destroy();
      u.destroy();
    };
    c.on('error', reset).on('close', () => {
      sockets.delete(c);
      u.destroy(); // nobody left to deliver to
    });
    u.on('error', reset).on('close', () => {
      sockets.delete(u);
      if (!c.writableEnded) c.end();
    });
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
