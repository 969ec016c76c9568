/**
 * Parses a node's dump for the kube-proxy check: kube-proxy's per-endpoint and per-service chains
 * are kept compactly (endpoint-rows.ts, compact-chains.ts), everything else as texts. Bytes are parsed a piece at a
 * time, so a 50 MB dump is never one string. Pure.
 */
import { DumpParser } from '../iptables/parse.ts';
import type { Ruleset } from '../iptables/types.ts';
import { kubeChainFactory, natChainsFactory } from './compact-chains.ts';

/** Parses `iptables-save` output (bytes or text) named `source`; throws DPS_ERR_RULES_* errors. */
export function parseNodeRules(input: Uint8Array | string, source: string): Ruleset[] {
  const bytes = typeof input === 'string' ? Buffer.from(input, 'utf8') : input;
  const parser = nodeRulesParser(source, bytes.length);
  parser.push(bytes);
  return parser.end();
}

/**
 * A parser to feed a node's dump piece by piece (a file or a stream), with the same chains.
 * `sizeHint`: the dump's size when known (a file's), so that the endpoint rows are sized once.
 */
export function nodeRulesParser(source: string, sizeHint?: number): DumpParser {
  return new DumpParser({ source, chainFactory: kubeChainFactory(), tableChains: natChainsFactory(), sizeHint });
}
