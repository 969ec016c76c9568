/**
 * Runs a {@link FakeApiServer} in its own process (for bench/kube-sync.ts, so the server's
 * memory is not counted). Usage: node test/helpers/kube-fake-apiserver-main.ts SERVICES ENDPOINTS_PER_SERVICE
 * Prints one JSON line {url, services, endpoints, fullJsonBytes} when ready; exits on SIGTERM or stdin end.
 */
import { FakeApiServer } from './fake-apiserver.ts';
import { makeNode, makeService, makeSlice } from './kube-objects.ts';

const services = Number(process.argv[2] ?? 10_000);
const perService = Number(process.argv[3] ?? 10);
const server = await FakeApiServer.start({ record: false, bookmarkIntervalMs: 60_000 });
const svcs = Array.from({ length: services }, (_, i) => makeService(i));
const slices = Array.from({ length: services }, (_, i) => makeSlice(i, perService));
const node = makeNode('node-1');
server.load('services', svcs);
server.load('endpointslices', slices);
server.load('nodes', [node]);
const fullJsonBytes = Buffer.byteLength(JSON.stringify(svcs)) + Buffer.byteLength(JSON.stringify(slices)) + Buffer.byteLength(JSON.stringify(node));
process.stdout.write(`${JSON.stringify({ url: server.url, services, endpoints: services * perService, fullJsonBytes })}\n`);
const stop = async (): Promise<void> => {
  await server.stop();
  process.exit(0);
};
process.on('SIGTERM', () => void stop());
process.stdin.on('end', () => void stop());
process.stdin.resume();
