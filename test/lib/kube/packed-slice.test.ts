// The stored form of an EndpointSlice: packed, unpacked exactly, and unpacked for the scan worker.
import t from 'tap';
import { makeSlice } from '../../helpers/kube-objects.ts';
import { trimEndpointSlice } from '../../../lib/kube/trim.ts';
import { Interner } from '../../../lib/kube/intern.ts';
import { packEndpointSlice, trimPackedEndpointSlice, unpackApiItems, unpackEndpointSlice } from '../../../lib/kube/packed-slice.ts';

t.test('packing keeps one string of endpoints and unpacks to the trimmed slice', async (t) => {
  const raw = JSON.parse(JSON.stringify(makeSlice(3, 4)));
  const trimmed = trimEndpointSlice(raw);
  const packed = trimPackedEndpointSlice(raw, new Interner());
  t.ok(trimmed.ok && packed.ok);
  if (!trimmed.ok || !packed.ok) return;
  t.equal(packed.key, trimmed.key);
  t.same(Object.keys(packed.value), ['metadata', 'addressType', 'ports', 'endpointsJson']);
  t.equal(typeof packed.value.endpointsJson, 'string');
  t.strictSame(unpackEndpointSlice(packed.value), trimmed.value);
  t.same(Object.keys(unpackEndpointSlice(packed.value)), Object.keys(trimmed.value), 'same key order');
});

t.test('wrong-typed values and missing fields survive the round trip untouched', async (t) => {
  const raw = {
    metadata: { namespace: 'a', name: 'b' },
    addressType: 7,
    endpoints: [{ addresses: ['1.2.3.4', 5], conditions: { ready: 'yes' }, nodeName: 3 }, 'junk', null, {}],
  };
  const trimmed = trimEndpointSlice(raw);
  const packed = trimPackedEndpointSlice(raw);
  t.ok(trimmed.ok && packed.ok);
  if (!trimmed.ok || !packed.ok) return;
  t.strictSame(unpackEndpointSlice(packed.value), trimmed.value);
  t.notOk('ports' in packed.value, 'absent stays absent');
  const none = trimPackedEndpointSlice({ metadata: { namespace: 'a', name: 'c' } });
  t.ok(none.ok);
  if (none.ok) t.strictSame(unpackEndpointSlice(none.value), { metadata: { namespace: 'a', name: 'c' } });
  t.same(trimPackedEndpointSlice({ metadata: { name: 'x' } }), { ok: false, reason: 'missing-namespace' }, 'drops as trimming does');
});

t.test('the scan worker unpacks EndpointSlices and passes everything else through', async (t) => {
  const slice = packEndpointSlice({ metadata: { namespace: 'a', name: 'b' }, endpoints: [{ addresses: ['10.0.0.1'] }] });
  const service = { kind: 'Service', metadata: { namespace: 'a', name: 's' }, spec: {} };
  const plainSlice = { kind: 'EndpointSlice', metadata: { namespace: 'a', name: 'p' }, endpoints: [] };
  const out = unpackApiItems([service, { kind: 'EndpointSlice', ...slice }, plainSlice, null, 'x']);
  t.equal(out[0], service);
  t.strictSame(out[1], { kind: 'EndpointSlice', metadata: { namespace: 'a', name: 'b' }, endpoints: [{ addresses: ['10.0.0.1'] }] });
  t.equal(out[2], plainSlice);
  t.same(out.slice(3), [null, 'x']);
});
