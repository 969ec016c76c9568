/**
 * Writes the iptables-restore data kube-proxy (iptables mode, 1.28+) would write for an expected
 * model: the inverse of the check, used by the demo, the benchmark generator and tests. It renders
 * a full sync with the built-in jumps and canaries, so that the result loaded into an empty network
 * namespace looks like a node's ruleset. Pure.
 */
import { endpointChainName } from './chain-names.ts';
import type { ExpectedEndpoint, ExpectedServicePort } from './expected.ts';

/** kube-proxy settings that change the rules (what the check infers from the ruleset). */
export interface RenderOptions {
  readonly family: 4 | 6;
  /** Pod CIDR for the local-traffic detector (`! -s CIDR` masquerade); none when undefined. */
  readonly clusterCIDR?: string;
  /** Masquerade mark, default 0x4000. */
  readonly mark?: string;
}

/** Renders kube-proxy's restore data for the given service ports. */
export function renderKubeProxyRules(ports: readonly ExpectedServicePort[], options: RenderOptions): string {
  const mark = options.mark ?? '0x4000';
  const host = options.family === 4 ? '/32' : '/128';
  const reject = options.family === 4 ? 'icmp-port-unreachable' : 'icmp6-port-unreachable';
  const natChains: string[] = [];
  const nat: string[] = [];
  const filter: string[] = [];
  const q = (s: string): string => (s.includes(' ') ? `"${s}"` : s);
  const fmtProb = (p: number): string => p.toFixed(10);
  // (kube-proxy's match order: the protocol, the comment, then the protocol's match; iptables-save
  // prints the matches in that order)
  const epString = (e: ExpectedEndpoint): string => e.id;

  const svcEndpoints = (sp: ExpectedServicePort, chain: string, eps: readonly ExpectedEndpoint[]): void => {
    if (sp.affinitySeconds !== undefined) {
      for (const e of eps) nat.push(`-A ${chain} -m comment --comment ${q(`${sp.name} -> ${epString(e)}`)} -m recent --name ${e.chain} --rcheck --seconds ${sp.affinitySeconds} --reap -j ${e.chain}`);
    }
    eps.forEach((e, i) => {
      const n = eps.length - i;
      const stat = n > 1 ? ` -m statistic --mode random --probability ${fmtProb(1 / n)}` : '';
      nat.push(`-A ${chain} -m comment --comment ${q(`${sp.name} -> ${epString(e)}`)}${stat} -j ${e.chain}`);
    });
  };

  const seps = new Set<string>();
  for (const sp of ports) {
    const cluster = sp.clusterCandidates[0] ?? [];
    const blockTarget = sp.hasEndpoints ? 'DROP' : `REJECT --reject-with ${reject}`;
    const blockComment = q(sp.hasEndpoints ? `${sp.name} has no local endpoints` : `${sp.name} has no endpoints`);
    // 1. ClusterIP
    if (sp.hasInternal) {
      nat.push(`-A KUBE-SERVICES -d ${sp.clusterIP}${host} -p ${sp.protocol} -m comment --comment ${q(`${sp.name} cluster IP`)} -m ${sp.protocol} --dport ${sp.port} -j ${sp.internalChain}`);
    } else {
      filter.push(`-A KUBE-SERVICES -d ${sp.clusterIP}${host} -p ${sp.protocol} -m comment --comment ${blockComment} -m ${sp.protocol} --dport ${sp.port} -j ${blockTarget}`);
    }
    // 2. external IPs, 3. LoadBalancer IPs
    for (const ip of sp.externalIPs) {
      if (sp.hasEndpoints) nat.push(`-A KUBE-SERVICES -d ${ip}${host} -p ${sp.protocol} -m comment --comment ${q(`${sp.name} external IP`)} -m ${sp.protocol} --dport ${sp.port} -j ${sp.extChain}`);
      if (!sp.hasExternal) filter.push(`-A KUBE-EXTERNAL-SERVICES -d ${ip}${host} -p ${sp.protocol} -m comment --comment ${blockComment} -m ${sp.protocol} --dport ${sp.port} -j ${blockTarget}`);
    }
    const lbTarget = sp.usesFirewall ? sp.fwChain : sp.extChain;
    for (const ip of sp.loadBalancerIPs) {
      if (sp.hasEndpoints) nat.push(`-A KUBE-SERVICES -d ${ip}${host} -p ${sp.protocol} -m comment --comment ${q(`${sp.name} loadbalancer IP`)} -m ${sp.protocol} --dport ${sp.port} -j ${lbTarget}`);
      if (sp.usesFirewall) filter.push(`-A KUBE-PROXY-FIREWALL -d ${ip}${host} -p ${sp.protocol} -m comment --comment ${q(`${sp.name} traffic not accepted by ${sp.fwChain}`)} -m ${sp.protocol} --dport ${sp.port} -j DROP`);
    }
    if (!sp.hasExternal) {
      for (const ip of sp.loadBalancerIPs) filter.push(`-A KUBE-EXTERNAL-SERVICES -d ${ip}${host} -p ${sp.protocol} -m comment --comment ${blockComment} -m ${sp.protocol} --dport ${sp.port} -j ${blockTarget}`);
    }
    // 4. NodePort
    if (sp.nodePort !== 0) {
      if (sp.hasEndpoints) nat.push(`-A KUBE-NODEPORTS -p ${sp.protocol} -m comment --comment ${q(sp.name)} -m ${sp.protocol} --dport ${sp.nodePort} -j ${sp.extChain}`);
      if (!sp.hasExternal) filter.push(`-A KUBE-EXTERNAL-SERVICES -p ${sp.protocol} -m comment --comment ${blockComment} -m addrtype --dst-type LOCAL -m ${sp.protocol} --dport ${sp.nodePort} -j ${blockTarget}`);
    }
    // 5. health check node port
    if (sp.healthCheckNodePort !== 0) filter.push(`-A KUBE-NODEPORTS -p tcp -m comment --comment ${q(`${sp.name} health check node port`)} -m tcp --dport ${sp.healthCheckNodePort} -j ACCEPT`);
    // 6. ClusterIP masquerade, 9. SVC/SVL chains
    const usesSVC = cluster.length > 0;
    const usesSVL = sp.localEndpoints.length > 0 && (sp.internalLocal || sp.externalLocal);
    const masqRule = (chain: string): void => {
      if (options.clusterCIDR !== undefined) nat.push(`-A ${chain} ! -s ${options.clusterCIDR} -d ${sp.clusterIP}${host} -p ${sp.protocol} -m comment --comment ${q(`${sp.name} cluster IP`)} -m ${sp.protocol} --dport ${sp.port} -j KUBE-MARK-MASQ`);
    };
    if (usesSVC) {
      natChains.push(sp.svcChain);
      if (sp.hasInternal && sp.internalChain === sp.svcChain) masqRule(sp.svcChain);
      svcEndpoints(sp, sp.svcChain, cluster);
    }
    if (usesSVL) {
      natChains.push(sp.svlChain);
      if (sp.hasInternal && sp.internalChain === sp.svlChain) masqRule(sp.svlChain);
      svcEndpoints(sp, sp.svlChain, sp.localEndpoints);
    }
    // 7. KUBE-EXT
    if (sp.hasEndpoints && sp.externallyAccessible) {
      natChains.push(sp.extChain);
      if (!sp.externalLocal) {
        nat.push(`-A ${sp.extChain} -m comment --comment ${q(`masquerade traffic for ${sp.name} external destinations`)} -j KUBE-MARK-MASQ`);
      } else {
        if (options.clusterCIDR !== undefined) nat.push(`-A ${sp.extChain} -s ${options.clusterCIDR} -m comment --comment ${q(`pod traffic for ${sp.name} external destinations`)} -j ${sp.svcChain}`);
        nat.push(`-A ${sp.extChain} -m comment --comment ${q(`masquerade LOCAL traffic for ${sp.name} external destinations`)} -m addrtype --src-type LOCAL -j KUBE-MARK-MASQ`);
        nat.push(`-A ${sp.extChain} -m comment --comment ${q(`route LOCAL traffic for ${sp.name} external destinations`)} -m addrtype --src-type LOCAL -j ${sp.svcChain}`);
      }
      if (sp.hasExternal) nat.push(`-A ${sp.extChain} -j ${sp.externalPolicyChain}`);
    }
    // 8. KUBE-FW
    if (sp.usesFirewall) {
      natChains.push(sp.fwChain);
      for (const r of sp.sourceRanges) nat.push(`-A ${sp.fwChain} -s ${r} -m comment --comment ${q(`${sp.name} loadbalancer IP`)} -j ${sp.extChain}`);
      nat.push(`-A ${sp.fwChain} -m comment --comment ${q(`other traffic to ${sp.name} will be dropped by KUBE-PROXY-FIREWALL`)}`);
    }
    // 10. KUBE-SEP chains
    const reachable = new Map<string, ExpectedEndpoint>();
    for (const e of usesSVC ? cluster : []) reachable.set(e.id, e);
    for (const e of usesSVL ? sp.localEndpoints : []) reachable.set(e.id, e);
    for (const e of reachable.values()) {
      const chain = endpointChainName(sp.name, sp.protocol, e.id);
      if (seps.has(chain)) continue;
      seps.add(chain);
      natChains.push(chain);
      nat.push(`-A ${chain} -s ${e.ip}${host} -m comment --comment ${q(sp.name)} -j KUBE-MARK-MASQ`);
      const recent = sp.affinitySeconds !== undefined ? ` -m recent --set --name ${chain} --mask ${options.family === 4 ? '255.255.255.255' : 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff'} --rsource` : '';
      nat.push(`-A ${chain} -p ${sp.protocol} -m comment --comment ${q(sp.name)}${recent} -m ${sp.protocol} -j DNAT --to-destination ${e.id}`);
    }
  }
  const nodePortDest = options.family === 4 ? '-m addrtype --dst-type LOCAL' : '! -d ::1/128 -m addrtype --dst-type LOCAL';
  return [
    '*mangle',
    ':PREROUTING ACCEPT [0:0]', ':INPUT ACCEPT [0:0]', ':FORWARD ACCEPT [0:0]', ':OUTPUT ACCEPT [0:0]', ':POSTROUTING ACCEPT [0:0]',
    ':KUBE-IPTABLES-HINT - [0:0]', ':KUBE-KUBELET-CANARY - [0:0]', ':KUBE-PROXY-CANARY - [0:0]',
    'COMMIT',
    '*filter',
    ':INPUT ACCEPT [0:0]', ':FORWARD ACCEPT [0:0]', ':OUTPUT ACCEPT [0:0]',
    ':KUBE-EXTERNAL-SERVICES - [0:0]', ':KUBE-FIREWALL - [0:0]', ':KUBE-FORWARD - [0:0]', ':KUBE-KUBELET-CANARY - [0:0]',
    ':KUBE-NODEPORTS - [0:0]', ':KUBE-PROXY-CANARY - [0:0]', ':KUBE-PROXY-FIREWALL - [0:0]', ':KUBE-SERVICES - [0:0]',
    '-A INPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes load balancer firewall" -j KUBE-PROXY-FIREWALL',
    '-A INPUT -m comment --comment "kubernetes health check service ports" -j KUBE-NODEPORTS',
    '-A INPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes externally-visible service portals" -j KUBE-EXTERNAL-SERVICES',
    '-A INPUT -j KUBE-FIREWALL',
    '-A FORWARD -m conntrack --ctstate NEW -m comment --comment "kubernetes load balancer firewall" -j KUBE-PROXY-FIREWALL',
    '-A FORWARD -m comment --comment "kubernetes forwarding rules" -j KUBE-FORWARD',
    '-A FORWARD -m conntrack --ctstate NEW -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
    '-A FORWARD -m conntrack --ctstate NEW -m comment --comment "kubernetes externally-visible service portals" -j KUBE-EXTERNAL-SERVICES',
    '-A OUTPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes load balancer firewall" -j KUBE-PROXY-FIREWALL',
    '-A OUTPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
    '-A OUTPUT -j KUBE-FIREWALL',
    ...(options.family === 4 ? ['-A KUBE-FIREWALL -d 127.0.0.0/8 ! -s 127.0.0.0/8 -m comment --comment "block incoming localnet connections" -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP'] : []),
    '-A KUBE-FORWARD -m conntrack --ctstate INVALID -j DROP',
    `-A KUBE-FORWARD -m comment --comment "kubernetes forwarding rules" -m mark --mark ${mark}/${mark} -j ACCEPT`,
    '-A KUBE-FORWARD -m comment --comment "kubernetes forwarding conntrack rule" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT',
    ...filter,
    'COMMIT',
    '*nat',
    ':PREROUTING ACCEPT [0:0]', ':INPUT ACCEPT [0:0]', ':OUTPUT ACCEPT [0:0]', ':POSTROUTING ACCEPT [0:0]',
    ':KUBE-KUBELET-CANARY - [0:0]', ':KUBE-MARK-MASQ - [0:0]', ':KUBE-NODEPORTS - [0:0]', ':KUBE-POSTROUTING - [0:0]',
    ':KUBE-PROXY-CANARY - [0:0]', ':KUBE-SERVICES - [0:0]',
    ...natChains.map((c) => `:${c} - [0:0]`),
    '-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
    '-A OUTPUT -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
    '-A POSTROUTING -m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING',
    `-A KUBE-MARK-MASQ -j MARK --or-mark ${mark}`,
    `-A KUBE-POSTROUTING -m mark ! --mark ${mark}/${mark} -j RETURN`,
    `-A KUBE-POSTROUTING -j MARK --xor-mark ${mark}`,
    '-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE',
    ...nat,
    `-A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" ${nodePortDest} -j KUBE-NODEPORTS`,
    'COMMIT',
    '',
  ].join('\n');
}
