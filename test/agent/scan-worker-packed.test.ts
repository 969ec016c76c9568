// The scan worker reads EndpointSlices packed by the API view exactly as it reads plain ones.
import t from 'tap';
import { ScanWorkerClient } from '../../agent/scan-worker-client.ts';
import { makeNode, makeService, makeSlice } from '../helpers/kube-objects.ts';
import { trimEndpointSlice, trimNode, trimService } from '../../lib/kube/trim.ts';
import { packEndpointSlice } from '../../lib/kube/packed-slice.ts';

const value = <T>(r: { ok: true; value: T } | { ok: false }): T => {
  if (!r.ok) throw new Error('trim failed');
  return r.value;
};

t.test('packed and plain EndpointSlices load the same view', async (t) => {
  const worker = new ScanWorkerClient();
  t.teardown(() => worker.close());
  const service = { kind: 'Service', ...value(trimService(makeService(1))) };
  const node = { kind: 'Node', ...value(trimNode(makeNode('node-1'))) };
  const slice = value(trimEndpointSlice(JSON.parse(JSON.stringify(makeSlice(1, 3)))));
  const plain = await worker.loadCluster({ kind: 'objects', items: [service, { kind: 'EndpointSlice', ...slice }, node] }, true, 10_000);
  const packed = await worker.loadCluster({ kind: 'objects', items: [service, { kind: 'EndpointSlice', ...packEndpointSlice(slice) }, node] }, true, 10_000);
  t.ok(plain.ok && packed.ok);
  if (!plain.ok || !packed.ok) return;
  t.equal(packed.slices, 1);
  t.same(packed.skipped, []);
  t.same(packed.fingerprints, plain.fingerprints, 'the worker sees the same objects');
});
