// kube-proxy's chain names, pinned to known answers from upstream.
import t from 'tap';
import { endpointChainName, serviceChainName } from '../../../lib/kubeproxy/chain-names.ts';

t.equal(serviceChainName('KUBE-SVC-', 'default/kubernetes:https', 'tcp'), 'KUBE-SVC-NPX46M4PTMTKRN6Y', 'the kubernetes service');
t.equal(serviceChainName('KUBE-EXT-', 'ns1/svc1:p80', 'tcp'), 'KUBE-EXT-XPGD46QRK7WJZT7O');
t.equal(serviceChainName('KUBE-SVC-', 'ns1/svc1', 'tcp'), 'KUBE-SVC-AQI2S6QIMU7PVVRP', 'an unnamed port');
t.equal(endpointChainName('ns1/svc1:p80', 'tcp', '10.180.0.1:80'), 'KUBE-SEP-SXIVWICOYRO3J4NJ');
t.equal(endpointChainName('ns1/svc1:p80', 'tcp', '[ff06::c1]:80'), 'KUBE-SEP-LIGRYQQLSZN4UWQ5', 'an IPv6 endpoint');
