import { describe, expect, test } from '@jest/globals';
import { kubeProxyArgs, nodePorts, parseCtrImages } from './node.js';

describe('node helpers', () => {
  test('ctr images ls output becomes ref → manifest digest (the digest a re-import is compared with)', () => {
    const out = [
      'REF                               TYPE                                       DIGEST          SIZE      PLATFORMS   LABELS',
      'sha256:6346c1 application/vnd.oci.image.manifest.v1+json sha256:97b638 680.7 KiB linux/amd64 io.cri-containerd.image=managed',
      'smartcloudops.local/pause:3.10.1 application/vnd.oci.image.manifest.v1+json sha256:97b638 680.7 KiB linux/amd64 -',
      '',
    ].join('\n');
    expect([...parseCtrImages(out)]).toEqual([
      ['sha256:6346c1', 'sha256:97b638'],
      ['smartcloudops.local/pause:3.10.1', 'sha256:97b638'],
    ]);
  });
  test('kube-proxy leaves oom_score_adj, conntrack sysctls and route_localnet alone and binds health to loopback', () => {
    const args = kubeProxyArgs('/k', nodePorts({}));
    expect(args).toEqual(
      expect.arrayContaining([
        '--proxy-mode=iptables',
        '--oom-score-adj=0',
        '--conntrack-max-per-core=0',
        '--iptables-localhost-nodeports=false',
        '--healthz-bind-address=127.0.0.1:10256',
      ]),
    );
  });
  test('node ports can be moved by environment variables', () => {
    expect(nodePorts({ SCO_PORT_KUBELET: '11250' }).kubelet).toBe(11250);
  });
});
