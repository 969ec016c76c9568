/** Reads a running agent over real HTTP: /health as code and body, /metrics as text, and polling. */
import { WaitTimeout, waitFor } from './kube-testing.ts';

/** One check as /health lists it. */
export interface HealthCheck {
  name: string;
  status: string;
  reason: string;
  message: string;
}

/** /health's reply (findings only with `?verbose`). */
export interface HealthReply {
  code: number;
  body: { status: string; checks: HealthCheck[]; reasons: string[]; findings?: { kind: string; service: string | null; endpoint: string | null }[] };
}

/** Polls an async condition every 20 ms until it holds (true) or `ms` pass (false). */
export async function eventually(cond: () => Promise<boolean>, ms = 5000): Promise<boolean> {
  try {
    return await waitFor(cond, ms, 'condition', 20);
  } catch (e) {
    if (e instanceof WaitTimeout) return false;
    throw e;
  }
}

/** Calls `sample` every `everyMs` for `ms`, keeping the distinct answers in the order first seen. */
export async function distinctSamples(sample: () => Promise<string>, ms = 1500, everyMs = 50): Promise<string[]> {
  const seen = new Set<string>();
  for (let deadline = Date.now() + ms; Date.now() < deadline; await new Promise((r) => setTimeout(r, everyMs))) seen.add(await sample());
  return [...seen];
}

/** The agent listening at `url`. */
export function agentHttp(url: string) {
  const health = async (query = ''): Promise<HealthReply> => {
    const r = await fetch(`${url}/health${query}`);
    return { code: r.status, body: (await r.json()) as HealthReply['body'] };
  };
  const metrics = async (): Promise<string> => (await fetch(`${url}/metrics`)).text();
  // Polls /health until `want` holds; throws with the last reply after `ms`.
  const until = async (want: (h: HealthReply) => boolean, what: string, ms = 10_000): Promise<HealthReply> => {
    let last: HealthReply | undefined;
    await waitFor(async () => want((last = await health('?verbose'))), ms, () => `${what}: ${JSON.stringify(last)}`, 50);
    return last!;
  };
  return { health, metrics, until };
}

/** The named check of a /health reply. */
export function checkOf(h: HealthReply, name: string): HealthCheck | undefined {
  return h.body.checks.find((c) => c.name === name);
}
