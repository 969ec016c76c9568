/**
 * What `check` runs once its inputs are being read: the parser, the check and the reports. Loaded
 * by check.ts with a dynamic import after it has started the cluster thread, so that the thread
 * boots while these modules load (~30 ms at start, on the command's critical path otherwise).
 */
export { PIECE_BYTES } from '../../lib/iptables/parse.ts';
export { checkNode, prepareNodeRules } from '../../lib/kubeproxy/check-node.ts';
export { nodeRulesParser } from '../../lib/kubeproxy/parse-node-rules.ts';
export { toJsonReport, toTextReport } from '../../lib/kubeproxy/report.ts';
