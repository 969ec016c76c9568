/**
 * kube-proxy's chain names: the first 16 characters of the standard base32 encoding of
 * SHA-256(servicePortName + protocol [+ endpoint]), with a fixed prefix. Pure.
 * Known answer: `default/kubernetes:https` + `tcp` → `KUBE-SVC-NPX46M4PTMTKRN6Y`.
 */
import { hash } from 'node:crypto';

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
const ALPHABET_CODES = Uint8Array.from(ALPHABET, (c) => c.charCodeAt(0));
// A name's character codes, by its length (the prefix's + 16), reused by every call (none re-enters).
const NAME_CODES: Uint16Array[] = [];

// `prefix` + the 16-character hash of `input`, made as one string (not a concatenation, nor 16 of them).
function hashedName(prefix: string, input: string): string {
  // One-shot, as hex: a Buffer made by native code (the 'buffer' encoding) changes its prototype,
  // which V8 treats as a change to every typed array's `length` lookup and deoptimizes all the
  // code that reads one (the whole parser, in the middle of a check).
  const digest = hash('sha256', input, 'hex');
  const out = NAME_CODES[prefix.length + 16] ??= new Uint16Array(prefix.length + 16);
  let k = 0;
  for (; k < prefix.length; k++) out[k] = prefix.charCodeAt(k);
  // 16 base32 characters = 80 bits = the first 20 hex digits
  let buffer = 0;
  let bits = 0;
  for (let i = 0; i < 20; i++) {
    const c = digest.charCodeAt(i);
    buffer = ((buffer << 4) | (c <= 57 ? c - 48 : c - 87)) & 0xff;
    bits += 4;
    if (bits >= 5) {
      out[k++] = ALPHABET_CODES[(buffer >>> (bits - 5)) & 31] as number;
      bits -= 5;
    }
  }
  return String.fromCharCode.apply(null, out as unknown as number[]);
}

/** Per-service-port chain prefixes. */
export type ServiceChainPrefix = 'KUBE-SVC-' | 'KUBE-SVL-' | 'KUBE-EXT-' | 'KUBE-FW-';

/** `KUBE-SVC-<hash>` etc. for a service port (`ns/svc:port`) and lower-case protocol. */
export function serviceChainName(prefix: ServiceChainPrefix, servicePortName: string, protocol: string): string {
  return hashedName(prefix, servicePortName + protocol);
}

/** `KUBE-SEP-<hash>` for an endpoint (`ip:port` or `[ip6]:port`) of a service port. */
export function endpointChainName(servicePortName: string, protocol: string, endpoint: string): string {
  return hashedName('KUBE-SEP-', servicePortName + protocol + endpoint);
}

/** The prefixes of the chains kube-proxy creates per service port or endpoint. */
export const PER_SERVICE_PREFIXES = ['KUBE-SVC-', 'KUBE-SVL-', 'KUBE-EXT-', 'KUBE-FW-', 'KUBE-SEP-', 'KUBE-XLB-'] as const;
