/**
 * Pure: kubelet vs kube-proxy version skew (the CircleCI 2023-03-14 outage: kube-proxy and
 * kubelet at different versions during a staged upgrade, iptables-restore failing silently).
 *
 * Policy (kubernetes.io version-skew-policy): kube-proxy may be up to three minor versions
 * older or newer than the kubelet beside it; when kube-proxy is older than 1.25, two.
 * Any minor skew inside the policy is reported (False, with the skew in the message) because it
 * is the window in which ruleset format changes bite; outside it the condition is True.
 */
import { CONDITION_TYPES, REASONS, type DesiredCondition } from './conditions.ts';

/** A parsed Kubernetes version. */
export interface KubeVersion {
  major: number;
  minor: number;
  patch: number;
  /** As given, e.g. `v1.30.2-eks-1234`. */
  raw: string;
}

/** Parses `v1.30.2`, `1.30.2+k3s1`, `v1.29.0-eks-5e0fdde`; undefined otherwise. */
export function parseKubeVersion(raw: unknown): KubeVersion | undefined {
  if (typeof raw !== 'string') return undefined;
  const m = /^v?(\d+)\.(\d+)\.(\d+)(?:[-+].*)?$/.exec(raw.trim());
  if (!m) return undefined;
  return { major: Number(m[1]), minor: Number(m[2]), patch: Number(m[3]), raw };
}

/** Largest supported minor skew between kube-proxy and kubelet. */
export function maxProxyKubeletSkew(proxy: KubeVersion): number {
  return proxy.major === 1 && proxy.minor < 25 ? 2 : 3;
}

/** The KubeProxyVersionSkew condition for the two versions. */
export function judgeVersionSkew(kubeletVersion: unknown, kubeProxyVersion: unknown): DesiredCondition {
  const type = CONDITION_TYPES.kubeProxyVersionSkew;
  const kubelet = parseKubeVersion(kubeletVersion);
  const proxy = parseKubeVersion(kubeProxyVersion);
  if (!kubelet || !proxy) {
    const which = !kubelet ? `kubelet (${String(kubeletVersion ?? 'none')})` : `kube-proxy (${String(kubeProxyVersion ?? 'none')})`;
    return { type, status: 'Unknown', reason: REASONS.versionUnknown, message: `The ${which} version is missing or not a Kubernetes version.` };
  }
  if (kubelet.major !== proxy.major) {
    return { type, status: 'True', reason: REASONS.versionSkewUnsupported, message: `kube-proxy ${proxy.raw} and kubelet ${kubelet.raw} have different major versions.` };
  }
  const skew = proxy.minor - kubelet.minor;
  const max = maxProxyKubeletSkew(proxy);
  const relation = skew === 0 ? 'the same minor version as' : `${Math.abs(skew)} minor version(s) ${skew > 0 ? 'newer' : 'older'} than`;
  if (Math.abs(skew) > max) {
    return {
      type,
      status: 'True',
      reason: REASONS.versionSkewUnsupported,
      message: `kube-proxy ${proxy.raw} is ${relation} kubelet ${kubelet.raw}; the supported skew is ${max}.`,
    };
  }
  return { type, status: 'False', reason: REASONS.versionSkewSupported, message: `kube-proxy ${proxy.raw} is ${relation} kubelet ${kubelet.raw} (supported: up to ${max}).` };
}
