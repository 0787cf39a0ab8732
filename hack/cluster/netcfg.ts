// The real node's address plan and its machine-global resources, as pure data and pure functions so they can be
// unit-tested: which ranges are black-holed, which iptables rules confine pods, what a teardown must find gone.
//
// Ranges (none overlaps another):
//   10.96.0.0/16   Service CIDR (kube-apiserver --service-cluster-ip-range); 10.96.0.1 kubernetes, 10.96.0.10 kube-dns
//   10.244.0.0/16  kwok's fake pod IPs (no device: black-holed)
//   10.0.0.1/32    kwok's fake node IP (black-holed)
//   10.250.0.0/24  the real node's pods, on the bridge sco-br0 (gateway 10.250.0.1, where CoreDNS also listens)
// The node's InternalIP is the API server's advertise address, an address of this machine.

export const SERVICE_CIDR = '10.96.0.0/16';
export const KUBERNETES_SERVICE_IP = '10.96.0.1';
export const DNS_SERVICE_IP = '10.96.0.10';
export const KWOK_POD_CIDR = '10.244.0.0/16';
export const KWOK_NODE_IP = '10.0.0.1';
export const POD_CIDR = '10.250.0.0/24';
export const BRIDGE = 'sco-br0';
export const BRIDGE_IP = '10.250.0.1';
export const BLACKHOLE = 'sco-blackhole';
export const CNI_NETWORK = 'sco-node';
/** kubelet cgroupRoot: every pod cgroup lives below it, in each cgroup v1 hierarchy (or the v2 tree). */
export const CGROUP_ROOT = 'smartcloudops-node';
/** Our own iptables chains (filter table), jumped to from FORWARD. */
export const FORWARD_CHAIN = 'SCO-NODE-FORWARD';

export const NODE_NAME = 'sco-node-0';
export const NODE_LABEL = { key: 'smartcloudops.ai/node', value: 'real' } as const;
export const NODE_TAINT = { key: 'smartcloudops.ai/real-node', value: 'true', effect: 'NoSchedule' } as const;

/** Ranges with no real device: routed to the dummy device so nothing addressed to them leaves the machine. */
export const BLACKHOLED = [SERVICE_CIDR, KWOK_POD_CIDR, `${KWOK_NODE_IP}/32`] as const;

/**
 * Sysctls the node's components may change (ip_forward by us; kubelet's kernel tunables; kube-proxy's conntrack and
 * route_localnet): their values are recorded before the node starts and written back on teardown.
 */
export const RECORDED_SYSCTLS = [
  'net/ipv4/ip_forward',
  'net/bridge/bridge-nf-call-iptables',
  'net/bridge/bridge-nf-call-ip6tables',
  'net/ipv4/conf/all/route_localnet',
  'vm/overcommit_memory',
  'vm/panic_on_oom',
  'kernel/panic',
  'kernel/panic_on_oops',
  'kernel/keys/root_maxkeys',
  'kernel/keys/root_maxbytes',
  'net/netfilter/nf_conntrack_max',
  'net/netfilter/nf_conntrack_tcp_timeout_established',
  'net/netfilter/nf_conntrack_tcp_timeout_close_wait',
] as const;

/** The sysctls `up` sets itself (the rest are only recorded). */
export const SET_SYSCTLS: Record<string, string> = {
  'net/ipv4/ip_forward': '1',
  'net/bridge/bridge-nf-call-iptables': '1',
};

/**
 * The filter-table rules that confine pods to the machine: pod ↔ pod traffic passes (Services DNAT to pods before
 * FORWARD), anything else a pod sends through the host (the default route, a kwok pod, a ClusterIP with no
 * endpoints: still addressed to the black hole) is rejected locally, and nothing from outside is forwarded to a pod.
 * Pod → host traffic (the API server, CoreDNS on the bridge address) is INPUT, not FORWARD, and is unaffected.
 * Each entry is an argument list for `iptables -A FORWARD_CHAIN`.
 */
export function forwardRules(): string[][] {
  return [
    ['-s', POD_CIDR, '-d', POD_CIDR, '-j', 'RETURN'],
    ['-s', POD_CIDR, '-j', 'REJECT', '--reject-with', 'icmp-net-unreachable'],
    ['-d', POD_CIDR, '-j', 'REJECT', '--reject-with', 'icmp-net-unreachable'],
  ];
}

/** IPv6: pods get no IPv6 address; nothing to or from the bridge is forwarded. */
export function forwardRules6(): string[][] {
  return [
    ['-i', BRIDGE, '-j', 'REJECT'],
    ['-o', BRIDGE, '-j', 'REJECT'],
  ];
}

/**
 * The CNI network: a bridge with host-local IPAM, no masquerading (kube-proxy masquerades within cluster ranges). No
 * portmap: hostPort is not needed by the tests, and its shared CNI-HOSTPORT-* chains are not ours alone to delete.
 */
export function cniConflist(ipamDataDir: string): object {
  return {
    cniVersion: '1.0.0',
    name: CNI_NETWORK,
    plugins: [
      {
        type: 'bridge',
        bridge: BRIDGE,
        isGateway: true,
        ipMasq: false,
        hairpinMode: true,
        ipam: {
          type: 'host-local',
          dataDir: ipamDataDir,
          ranges: [[{ subnet: POD_CIDR, gateway: BRIDGE_IP }]],
          routes: [{ dst: '0.0.0.0/0' }],
        },
      },
    ],
  };
}

/**
 * Chains in `iptables-save` output that are ours to delete: KUBE-* (kubelet and kube-proxy; only the real node runs
 * them on this machine) and SCO-NODE-*.
 */
export function ownedChains(save: string): { table: string; chain: string }[] {
  const out: { table: string; chain: string }[] = [];
  let table = '';
  for (const line of save.split('\n')) {
    if (line.startsWith('*')) table = line.slice(1).trim();
    const m = /^:(\S+)/.exec(line);
    if (m && table && isOwnedChain(m[1] as string)) out.push({ table, chain: m[1] as string });
  }
  return out;
}

export function isOwnedChain(chain: string): boolean {
  return chain.startsWith('KUBE-') || chain.startsWith('SCO-NODE');
}

/** Rules in built-in chains that jump to one of our chains, as `-D` argument lists per table. */
export function jumpsToOwned(save: string): { table: string; args: string[] }[] {
  const out: { table: string; args: string[] }[] = [];
  let table = '';
  for (const line of save.split('\n')) {
    if (line.startsWith('*')) table = line.slice(1).trim();
    const m = /^-A (\S+) (.*)$/.exec(line);
    if (!m || !table || isOwnedChain(m[1] as string)) continue;
    const jump = /-j (\S+)/.exec(m[2] as string);
    if (jump && isOwnedChain(jump[1] as string))
      out.push({ table, args: [m[1] as string, ...splitArgs(m[2] as string)] });
  }
  return out;
}

/** Splits an iptables-save rule into arguments, keeping double-quoted strings (comments) together. */
export function splitArgs(rule: string): string[] {
  const out: string[] = [];
  const re = /"((?:[^"\\]|\\.)*)"|(\S+)/g;
  for (let m = re.exec(rule); m; m = re.exec(rule))
    out.push(m[1] !== undefined ? m[1].replace(/\\"/g, '"') : (m[2] as string));
  return out;
}

/** Mount points at or below `dir` in /proc/self/mountinfo text, deepest first (the order to unmount them). */
export function mountsUnder(mountinfo: string, dir: string): string[] {
  const prefix = dir.endsWith('/') ? dir : `${dir}/`;
  const points = new Set<string>();
  for (const line of mountinfo.split('\n')) {
    const f = line.split(' ');
    const p = (f[4] ?? '').replace(/\\040/g, ' ');
    if (p === dir || p.startsWith(prefix)) points.add(p);
  }
  return [...points].sort((a, b) => b.split('/').length - a.split('/').length || b.localeCompare(a));
}
