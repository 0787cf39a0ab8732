// The pods' way to the services on 127.0.0.1: forwarders on the real node's bridge address (hack/cluster/bridge.ts,
// shared with the demo's forwarding daemon).
export { BRIDGE_IP, forwardOnBridge, type Forwarder } from '../../hack/cluster/bridge.js';
