import t from 'tap';
import { judgeVersionSkew, parseKubeVersion } from '../../../lib/kube/version-skew.ts';

t.test('parses the version strings nodes report', async (t) => {
  t.same(parseKubeVersion('v1.30.2'), { major: 1, minor: 30, patch: 2, raw: 'v1.30.2' });
  t.equal(parseKubeVersion('v1.29.0-eks-5e0fdde')?.minor, 29);
  t.equal(parseKubeVersion('1.28.4+k3s1')?.minor, 28);
  for (const bad of ['', 'v1.30', 'latest', undefined, 130, 'v1.30.2 extra']) t.equal(parseKubeVersion(bad), undefined, String(bad));
});

t.test('skew policy', async (t) => {
  const cases: [string, unknown, unknown, string][] = [
    // [what, kubelet, kube-proxy, status/reason]
    ['same version', 'v1.30.2', 'v1.30.2', 'False/VersionSkewSupported'],
    ['proxy three minors older', 'v1.30.2', 'v1.27.9', 'False/VersionSkewSupported'],
    ['proxy three minors newer', 'v1.27.0', 'v1.30.0', 'False/VersionSkewSupported'],
    ['proxy four minors older', 'v1.30.2', 'v1.26.0', 'True/VersionSkewUnsupported'],
    ['proxy four minors newer', 'v1.26.0', 'v1.30.0', 'True/VersionSkewUnsupported'],
    ['before 1.25 only two minors', 'v1.24.0', 'v1.21.0', 'True/VersionSkewUnsupported'],
    ['before 1.25 two minors is fine', 'v1.24.0', 'v1.22.3', 'False/VersionSkewSupported'],
    ['different majors', 'v2.0.0', 'v1.30.0', 'True/VersionSkewUnsupported'],
    ['kube-proxy version missing (deprecated field emptied)', 'v1.31.0', '', 'Unknown/VersionUnknown'],
    ['kubelet version garbage', 'banana', 'v1.31.0', 'Unknown/VersionUnknown'],
  ];
  for (const [what, kubelet, proxy, expected] of cases) {
    const c = judgeVersionSkew(kubelet, proxy);
    t.equal(`${c.status}/${c.reason}`, expected, what);
    t.equal(c.type, 'KubeProxyVersionSkew');
  }
  t.match(judgeVersionSkew('v1.30.2', 'v1.28.1').message, /2 minor version\(s\) older than kubelet v1\.30\.2 \(supported: up to 3\)/);
});
