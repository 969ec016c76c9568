import t from 'tap';
import { componentOfJournalEntry, componentOfMessage, componentOfPath, parsePodLogPath } from '../../../lib/logs/infer-component.ts';

t.test('reads namespace, pod, uid, container and restart count from a CRI pod log path', async (t) => {
  t.same(parsePodLogPath('/var/log/pods/kube-system_kube-proxy-x7k2p_5f1c2a4e/kube-proxy/3.log'),
    { namespace: 'kube-system', pod: 'kube-proxy-x7k2p', uid: '5f1c2a4e', container: 'kube-proxy', restart: 3 });
  t.equal(parsePodLogPath('/var/log/pods/ns_p_u/c/0.log.20230314-180000.gz')?.container, 'c');
  t.equal(parsePodLogPath('/var/log/syslog'), undefined);
});

t.test('infers the component from the path', async (t) => {
  const cases: [string, string | undefined][] = [
    ['/var/log/pods/calico-system_calico-node-abc_u1/calico-node/0.log', 'calico-node'],
    ['/var/log/pods/kube-system_calico-node-abc_u1/install-cni/0.log', 'calico-node'],
    ['/var/log/pods/kube-system_coredns-1_u1/coredns/2.log', 'coredns'],
    ['/var/log/pods/default_web_u1/nginx/0.log', 'nginx'],
    ['/var/log/containers/kube-proxy-x7k2p_kube-system_kube-proxy-' + 'a'.repeat(64) + '.log', 'kube-proxy'],
    ['/var/log/calico/cni/cni.log', 'calico-cni'],
    ['/var/log/aws-routed-eni/ipamd.log', 'aws-vpc-cni'],
    ['/var/log/multus.log', 'multus'],
    ['/var/log/kern.log.1', 'kernel'],
    ['/tmp/saved/kube-proxy-previous.txt', 'kube-proxy'],
    ['/tmp/whatever.txt', undefined],
  ];
  for (const [path, want] of cases) t.equal(componentOfPath(path), want, path);
});

t.test('infers the component of a journald entry from its unit or transport', async (t) => {
  t.equal(componentOfJournalEntry('kubelet.service', 'kubelet', 'stdout'), 'kubelet');
  t.equal(componentOfJournalEntry('k3s-agent.service', 'k3s', 'stdout'), 'k3s');
  t.equal(componentOfJournalEntry(undefined, undefined, 'kernel'), 'kernel');
  t.equal(componentOfJournalEntry(undefined, 'kube-proxy', 'syslog'), 'kube-proxy');
  t.equal(componentOfJournalEntry('snap.microk8s.daemon-containerd.service', undefined, 'stdout'), 'containerd');
});

t.test('infers the component from the line only on unambiguous markers', async (t) => {
  t.equal(componentOfMessage('I0809 06:14:37.485205       1 proxier.go:779] Sync failed; retrying in 30s'), 'kube-proxy');
  t.equal(componentOfMessage('[ERROR] plugin/errors: 2 a. A: read udp 1:2->3:53: i/o timeout'), 'coredns');
  t.equal(componentOfMessage('2024-10-01 10:00:30.001 [ERROR][206547] plugin.go 580: Final result'), 'calico-cni');
  t.equal(componentOfMessage('2017-11-21 15:44:46.903 [WARNING][7] table.go 978: Failed'), 'calico-node');
  t.equal(componentOfMessage('[2833874.822698] nf_conntrack: nf_conntrack: table full, dropping packet'), 'kernel');
  t.equal(componentOfMessage('E0126 16:58:13.292855      12 run.go:72] "command failed"'), 'unknown');
});
