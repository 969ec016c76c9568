// The Dockerfile: parsed (no container engine here), every file it copies exists and passes
// .dockerignore, the stages are what the issue asks for, and the runtime stage is replayed in a
// temp dir (its COPY steps, its `npm ci --omit=dev --ignore-scripts` against the npm registry,
// dist/ built with the project's tsc) to run the entry point with --help from that clean install.
import t, { type Test } from 'tap';
import { cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import { dirname, join, posix } from 'node:path';
import { ROOT, freePort, run } from './helpers.ts';

// tsc and npm ci take about a minute; on a loaded two-core machine, more than the suite's 120 s per file.
t.setTimeout(420_000);

interface Instruction { cmd: string; args: string; line: number }
interface Stage { from: string; name: string | undefined; body: Instruction[] }

/** Dockerfile → ARG defaults and stages (continuations joined, comments dropped). */
export function parseDockerfile(text: string): { args: Record<string, string>; stages: Stage[] } {
  const lines = text.split('\n');
  const instructions: Instruction[] = [];
  let buf = '';
  let start = 0;
  lines.forEach((raw, i) => {
    const line = raw.trimEnd();
    if (buf === '' && (/^\s*#/.test(line) || line.trim() === '')) return;
    if (buf !== '' && /^\s*#/.test(line)) return;
    if (buf === '') start = i + 1;
    if (line.endsWith('\\')) buf += `${line.slice(0, -1)} `;
    else {
      buf += line;
      const m = /^\s*(\w+)\s+([\s\S]*)$/.exec(buf);
      if (!m) throw new Error(`Dockerfile:${start}: cannot parse "${buf}"`);
      instructions.push({ cmd: m[1]!.toUpperCase(), args: m[2]!.trim(), line: start });
      buf = '';
    }
  });
  const args: Record<string, string> = {};
  const stages: Stage[] = [];
  for (const ins of instructions) {
    if (ins.cmd === 'FROM') {
      const m = /^(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?$/i.exec(ins.args);
      stages.push({ from: m![1]!.replace(/\$\{(\w+)\}/g, (_, k: string) => args[k] ?? ''), name: m![2], body: [] });
    } else if (stages.length === 0) {
      if (ins.cmd !== 'ARG') throw new Error(`Dockerfile:${ins.line}: only ARG may precede FROM`);
      const [k, v] = ins.args.split('=', 2);
      args[k!] = v ?? '';
    } else stages.at(-1)!.body.push(ins);
  }
  return { args, stages };
}

// COPY [--from=x] [--chown=..] src... dest → parts.
function copyParts(ins: Instruction): { from: string | undefined; srcs: string[]; dest: string } {
  const words = ins.args.split(/\s+/);
  const flags = words.filter((w) => w.startsWith('--'));
  const rest = words.filter((w) => !w.startsWith('--'));
  return { from: flags.find((f) => f.startsWith('--from='))?.slice(7), srcs: rest.slice(0, -1), dest: rest.at(-1)! };
}

// .dockerignore (Docker's rules for the patterns used here: later patterns win, `!` re-includes,
// a pattern names a path or a directory prefix, `*` matches one path segment).
function ignored(path: string, patterns: string[]): boolean {
  let out = false;
  for (const p of patterns) {
    const negate = p.startsWith('!');
    const pat = negate ? p.slice(1) : p;
    const re = new RegExp(`^${pat.split('/').map((s) => (s === '**' ? '.*' : s.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*'))).join('/')}(/.*)?$`);
    if (re.test(path)) out = !negate;
  }
  return out;
}

const dockerfile = parseDockerfile(readFileSync(join(ROOT, 'Dockerfile'), 'utf8'));
const dockerignore = readFileSync(join(ROOT, '.dockerignore'), 'utf8').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
const [build, runtime] = dockerfile.stages as [Stage, Stage];
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
const workdir = (s: Stage, upTo = s.body.length) => s.body.slice(0, upTo).filter((i) => i.cmd === 'WORKDIR').at(-1)?.args ?? '/';
// Asserts a command exited 0, with its output as the diagnostic when it did not.
function passed(t: Test, r: ReturnType<typeof run>, what: string): void {
  t.equal(r.status, 0, what, r.status === 0 ? {} : { stdout: r.stdout.slice(-2000), stderr: r.stderr.slice(-4000), error: r.error?.message });
}
const entrypoint = () => JSON.parse(runtime.body.filter((i) => i.cmd === 'ENTRYPOINT').at(-1)!.args) as string[];

t.test('two stages: build on the full Node 24 image, run on the slim one', async (t) => {
  t.equal(dockerfile.stages.length, 2);
  t.equal(build.name, 'build');
  t.match(build.from, /^node:24-[a-z]+$/, 'build: full Node 24 image');
  t.match(runtime.from, /^node:24-[a-z]+-slim$/, 'runtime: slim Debian Node 24 image');
  t.equal(build.from.replace(/-slim$/, ''), runtime.from.replace(/-slim$/, ''), 'the same Debian release in both');
  const apt = runtime.body.find((i) => i.cmd === 'RUN' && i.args.includes('apt-get install'))!.args;
  for (const p of ['iptables', 'nftables', 'systemd']) t.match(apt, new RegExp(`\\b${p}\\b`), `installs ${p}`);
  t.match(apt, /--no-install-recommends/);
  t.match(apt, /rm -rf \/var\/lib\/apt\/lists/);
  t.ok(build.body.some((i) => i.cmd === 'RUN' && /\bnpm run build\b/.test(i.args)), 'build: npm run build');
  t.ok(runtime.body.some((i) => i.cmd === 'RUN' && /npm ci --omit=dev --ignore-scripts/.test(i.args)), 'runtime: production dependencies only');
  const user = runtime.body.filter((i) => i.cmd === 'USER').at(-1)?.args;
  t.ok(user && user !== 'root' && user !== '0' && !user.startsWith('0:'), 'runtime: non-root by default');
  t.same(entrypoint(), ['node', posix.join(workdir(runtime), pkg.bin['dataplane-sentinel'])], 'entry point: the package bin');
});

t.test('every COPY source exists and is in the build context', async (t) => {
  for (const name of ['node_modules', 'dist', '.git', 'test', 'docs', 'deploy']) t.ok(ignored(name, dockerignore), `.dockerignore keeps ${name} out`);
  for (const stage of dockerfile.stages) {
    for (const ins of stage.body.filter((i) => i.cmd === 'COPY' || i.cmd === 'ADD')) {
      t.equal(ins.cmd, 'COPY', `Dockerfile:${ins.line}: COPY, not ADD`);
      const { from, srcs } = copyParts(ins);
      for (const src of srcs) {
        if (from !== undefined) {
          // From the build stage: only what it produced (dist/ from tsconfig.build.json's outDir).
          t.equal(from, 'build', `Dockerfile:${ins.line}: copies from the build stage`);
          const outDir = JSON.parse(readFileSync(join(ROOT, 'tsconfig.build.json'), 'utf8')).compilerOptions.outDir;
          t.equal(src, posix.join(workdir(build), outDir), `Dockerfile:${ins.line}: ${src} is the build's output`);
          continue;
        }
        t.ok(existsSync(join(ROOT, src)), `Dockerfile:${ins.line}: ${src} exists`);
        t.notOk(ignored(src, dockerignore), `Dockerfile:${ins.line}: ${src} is not excluded by .dockerignore`);
        if (existsSync(join(ROOT, src)) && statSync(join(ROOT, src)).isDirectory()) {
          const files = readdirSync(join(ROOT, src), { recursive: true }) as string[];
          t.ok(files.length > 0, `${src} is not empty`);
        }
      }
    }
  }
  // The build stage compiles what tsconfig.build.json includes: all of it must be copied in.
  const includes: string[] = JSON.parse(readFileSync(join(ROOT, 'tsconfig.build.json'), 'utf8')).include;
  const copied = build.body.filter((i) => i.cmd === 'COPY').flatMap((i) => copyParts(i).srcs);
  for (const inc of includes) t.ok(copied.includes(inc), `build stage copies ${inc}/ (tsconfig.build.json include)`);
  for (const f of ['tsconfig.json', 'tsconfig.build.json', 'package.json', 'package-lock.json']) t.ok(copied.includes(f), `build stage copies ${f}`);
});

t.test('the runtime stage, replayed: the entry point runs from a clean npm ci --omit=dev install', { timeout: 300_000 }, async (t) => {
  const started = Date.now();
  const dir = mkdtempSync(join(tmpdir(), 'dps-image-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const appDir = workdir(runtime);
  const local = (p: string) => join(dir, posix.relative(appDir, posix.resolve(appDir, p)));
  for (const ins of runtime.body) {
    if (ins.cmd === 'COPY') {
      const { from, srcs, dest } = copyParts(ins);
      if (from === 'build') {
        // The build stage's dist/, compiled here with the project's own tsc.
        const r = run(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', join(ROOT, 'tsconfig.build.json'), '--outDir', local(dest)], { timeoutMs: 120_000 });
        passed(t, r, 'dist/ built with the project\'s tsc');
        continue;
      }
      for (const src of srcs) cpSync(join(ROOT, src), srcs.length > 1 || dest.endsWith('/') ? join(local(dest), posix.basename(src)) : local(dest), { recursive: true });
    } else if (ins.cmd === 'RUN' && /\bnpm ci\b/.test(ins.args)) {
      // Only `npm ci` is replayed: `npm cache clean` would empty this machine's npm cache.
      for (const step of ins.args.split('&&').map((s) => s.trim()).filter((s) => /^npm ci\b/.test(s))) {
        const r = run('npm', step.split(/\s+/).slice(1), { cwd: dir, timeoutMs: 240_000, env: { ...process.env, npm_config_prefer_offline: 'true', npm_config_update_notifier: 'false' } });
        passed(t, r, step);
      }
    }
  }
  t.notOk(existsSync(join(dir, 'node_modules/typescript')), 'no devDependencies installed');
  t.notOk(existsSync(join(dir, 'node_modules/tap')), 'no test runner installed');
  const [node, script] = entrypoint();
  t.equal(node, 'node');
  const bin = local(script!);
  const help = run(process.execPath, [bin, '--help'], { cwd: dir });
  passed(t, help, '--help exits 0');
  t.match(help.stdout, /Usage:/, '--help prints the usage');
  for (const cmd of ['check', 'scan-logs']) {
    const r = run(process.execPath, [bin, cmd, '--help'], { cwd: dir });
    passed(t, r, `${cmd} --help exits 0`);
  }
  // Executed itself, as npm's bin link and npx run it: sh reads its first line and starts Node.
  const direct = run(bin, ['check', '--help'], { cwd: dir, env: { ...process.env, PATH: `${dirname(process.execPath)}:${process.env.PATH ?? ''}` } });
  passed(t, direct, 'executed as a program (npm\'s bin link), check --help exits 0');
  t.match(direct.stdout, /^Usage: dataplane-sentinel check/, 'and prints check\'s usage');
  // Every compiled module loads with production dependencies only.
  const modules = (readdirSync(join(dir, 'dist'), { recursive: true }) as string[]).filter((f) => f.endsWith('.js'));
  const load = run(process.execPath, ['--input-type=module', '-e', `for (const m of ${JSON.stringify(modules)}) await import('./dist/' + m);`], { cwd: dir, timeoutMs: 60_000 });
  passed(t, load, `all ${modules.length} dist modules import with production dependencies only`);
  // The DaemonSet's command.
  const agent = run(process.execPath, [bin, 'agent', '--help'], { cwd: dir });
  if (agent.status === 0) {
    t.match(agent.stdout, /--node/, 'agent --help lists its flags');
  } else if (!/\bagent\b/.test(help.stdout)) {
    t.pass('the agent command is not there yet, and --help does not list it');
  } else {
    t.fail(`--help lists "agent" but "agent --help" exits ${agent.status}: ${agent.stderr.trim()}`, {
      todo: 'the agent command is being written in parallel (agent/**); this becomes a failure-free check once it is merged',
    });
  }
  // And it runs: the compiled agent starts its scan worker (a compiled module too) and judges a node.
  const fixture = join(ROOT, 'test/fixtures/kubeproxy/overall-iptables-rules');
  const port = await freePort();
  const daemon = spawn(process.execPath, [bin, 'agent', '--node', 'test-node', '--cluster-file', join(fixture, 'cluster.json'),
    '--rules-file', join(fixture, 'legacy.save'), '--listen', `127.0.0.1:${port}`, '--interval', '200ms', '--grace', '0s', '--persist-scans', '1',
    '--no-follow-logs', '--no-kube-proxy-probe', '--no-journal'], { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  daemon.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
  t.teardown(() => { daemon.kill('SIGKILL'); });
  let health: { status?: string; checks?: { name: string; reason: string }[] } = {};
  for (const deadline = Date.now() + 30_000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 200))) {
    try {
      health = await (await fetch(`http://127.0.0.1:${port}/health`)).json() as typeof health;
      if (health.checks?.find((c) => c.name === 'rules')?.reason !== 'NotJudgedYet') break;
    } catch { /* not listening yet */ }
  }
  t.equal(health.status, 'healthy', 'the compiled agent judges an in-sync node healthy (its compiled scan worker runs)', { health, stderr: stderr.slice(-2000) });
  const exited = new Promise<number | null>((resolve) => daemon.once('exit', (code) => resolve(code)));
  daemon.kill('SIGTERM');
  t.equal(await exited, 0, 'and stops on SIGTERM');
  t.comment(`replay took ${((Date.now() - started) / 1000).toFixed(1)} s`);
});
