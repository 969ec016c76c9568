/**
 * `dataplane-sentinel scan-logs PATH... [--format text|json] [--config FILE]`
 *
 * Reads files or directories once (CRI, Docker json-file or plain lines, `.gz` too), prints one
 * record per matched line, then a summary by class. JSON framing: JSON Lines, one object per match
 * `{"file","line","time","component","class","severity","message"}`, then one final
 * `{"summary":{...}}` line. Exit 0 when it ran, 2 on usage errors (bad flags, a PATH that does not
 * exist, an invalid config or rule).
 */
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { parse as parseYaml } from 'yaml';
import type { CliIo } from '../cli-io.ts';
import { EXIT } from '../cli-io.ts';
import { agentError, formatError, isAgentError } from '../../lib/errors.ts';
import { BUILTIN_RULES } from '../../lib/logs/builtin-rules.ts';
import { compileRules } from '../../lib/logs/compile-rules.ts';
import type { RuleSet } from '../../lib/logs/compile-rules.ts';
import { listScanFiles } from '../../lib/logs/list-scan-files.ts';
import { parseLogConfig } from '../../lib/logs/log-config.ts';
import { scanFile } from '../../lib/logs/scan-file.ts';

const USAGE = `Usage: dataplane-sentinel scan-logs PATH... [--format text|json] [--config FILE]

Reads log files or directories once (CRI, Docker json-file or plain lines, .gz too) and prints
every line that matches a log rule, then a summary by class.
  --format text|json   output format (default text); json is JSON Lines ending with {"summary":...}
  --config FILE        agent config (YAML or JSON) whose logs.rules add to or override the built-ins
`;

/** Summary printed after the matches. */
interface Summary {
  files: number;
  lines: number;
  matches: number;
  byClass: Record<string, number>;
  truncatedLines: number;
  decodeErrors: number;
  errors: { file: string; code: string; message: string }[];
}

/** Runs the command; see the module comment for the contract. */
export async function runScanLogs(argv: readonly string[], io: CliIo): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      options: { format: { type: 'string', default: 'text' }, config: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    });
  } catch (error) {
    io.stderr.write(`dataplane-sentinel scan-logs: ${(error as Error).message}\n${USAGE}`);
    return EXIT.usage;
  }
  const { values, positionals } = parsed;
  if (values.help === true) {
    io.stdout.write(USAGE);
    return EXIT.ok;
  }
  const format = values.format;
  if (format !== 'text' && format !== 'json') {
    io.stderr.write(`dataplane-sentinel scan-logs: expected --format text or json, got "${format}".\n${USAGE}`);
    return EXIT.usage;
  }
  if (positionals.length === 0) {
    io.stderr.write(`dataplane-sentinel scan-logs: expected at least one PATH.\n${USAGE}`);
    return EXIT.usage;
  }
  let rules: RuleSet;
  let targets;
  try {
    rules = await loadRules(values.config);
    targets = await listScanFiles(positionals);
  } catch (error) {
    io.stderr.write(`dataplane-sentinel scan-logs: ${formatError(error)}\n`);
    return EXIT.usage;
  }
  const out = new BufferedWriter(io.stdout);
  const summary: Summary = { files: 0, lines: 0, matches: 0, byClass: {}, truncatedLines: 0, decodeErrors: 0, errors: [] };
  for (const target of targets) {
    if (io.signal.aborted) break;
    if ('error' in target) {
      recordError(summary, io, target.path, target.error);
      continue;
    }
    summary.files += 1;
    try {
      const stats = await scanFile(target.file, {
        rules,
        maxLineBytes: 64 * 1024,
        signal: io.signal,
        onMatch: async (match, line) => {
          summary.byClass[match.class] = (summary.byClass[match.class] ?? 0) + 1;
          const record = { file: target.file, line, time: match.time ?? null, component: match.component, class: match.class, severity: match.severity, message: match.message };
          await out.write(format === 'json' ? `${JSON.stringify(record)}\n` : formatText(record));
        },
      });
      summary.lines += stats.lines;
      summary.matches += stats.matches;
      summary.truncatedLines += stats.truncatedLines;
      summary.decodeErrors += stats.decodeErrors;
    } catch (error) {
      recordError(summary, io, target.file, error);
    }
  }
  await out.write(format === 'json' ? `${JSON.stringify({ summary })}\n` : formatSummary(summary));
  await out.end();
  return EXIT.ok;
}

async function loadRules(configPath: string | undefined): Promise<RuleSet> {
  if (configPath === undefined) return compileRules(BUILTIN_RULES);
  let text: string;
  try {
    text = await readFile(configPath, 'utf8');
  } catch (error) {
    throw agentError('DPS_ERR_INPUT_READ', `Cannot read config ${configPath}: ${(error as Error).message}.`, { where: configPath, cause: error });
  }
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (error) {
    throw agentError('DPS_ERR_LOGS_CONFIG_INVALID', `Config ${configPath} is not YAML or JSON: ${(error as Error).message}.`, { where: configPath, cause: error });
  }
  const section = typeof doc === 'object' && doc !== null && 'logs' in doc ? (doc as { logs: unknown }).logs : undefined;
  const config = parseLogConfig(section, `${configPath}: logs`);
  return compileRules(BUILTIN_RULES, config.rules);
}

function recordError(summary: Summary, io: CliIo, file: string, error: unknown): void {
  const code = isAgentError(error) ? error.code : 'DPS_ERR_INTERNAL';
  summary.errors.push({ file, code, message: error instanceof Error ? error.message : String(error) });
  io.stderr.write(`dataplane-sentinel scan-logs: ${formatError(error)}\n`);
}

interface PrintedMatch { file: string; line: number; time: string | null; component: string; class: string; severity: string; message: string }

function formatText(m: PrintedMatch): string {
  const message = m.message.replace(/\n/g, '\\n');
  return `${m.file}:${m.line} ${m.time ?? '-'} ${m.component} ${m.class} ${m.severity} ${message}\n`;
}

function formatSummary(s: Summary): string {
  const lines = [`\n${s.matches} matching lines in ${s.lines} lines from ${s.files} files`];
  for (const [cls, n] of Object.entries(s.byClass).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))) lines.push(`  ${cls}: ${n}`);
  if (s.truncatedLines > 0) lines.push(`  (${s.truncatedLines} lines longer than 64 KiB were truncated)`);
  if (s.decodeErrors > 0) lines.push(`  (${s.decodeErrors} lines were not valid UTF-8 or held binary data)`);
  if (s.errors.length > 0) lines.push(`  ${s.errors.length} paths could not be read (see stderr)`);
  return `${lines.join('\n')}\n`;
}

// Batches small writes and honours back-pressure, so a huge scan neither floods memory nor stalls.
class BufferedWriter {
  readonly #stream: NodeJS.WritableStream;
  #buffer: string[] = [];
  #size = 0;
  constructor(stream: NodeJS.WritableStream) {
    this.#stream = stream;
  }
  async write(text: string): Promise<void> {
    this.#buffer.push(text);
    this.#size += text.length;
    if (this.#size >= 64 * 1024) await this.#flush();
  }
  async end(): Promise<void> {
    await this.#flush();
  }
  async #flush(): Promise<void> {
    if (this.#buffer.length === 0) return;
    const text = this.#buffer.join('');
    this.#buffer = [];
    this.#size = 0;
    if (!this.#stream.write(text)) await new Promise<void>((resolve) => this.#stream.once('drain', () => resolve()));
  }
}
