// The streaming list splitter gives the same items and envelope as JSON.parse, however the body is cut.
import t from 'tap';
import { ListSplitter } from '../../../lib/kube/list-splitter.ts';

// Splits `body` into chunks at the given offsets; returns the items and the envelope.
function split(body: string, cuts: number[]): { items: unknown[]; envelope: unknown } {
  const bytes = Buffer.from(body);
  const items: unknown[] = [];
  const s = new ListSplitter((item) => items.push(item));
  let from = 0;
  for (const cut of [...cuts, bytes.length]) {
    s.push(bytes.subarray(from, cut));
    from = cut;
  }
  return { items, envelope: s.end() };
}

// What JSON.parse says: the items, and the rest with an empty items list.
function expected(body: string): { items: unknown[]; envelope: unknown } {
  const whole = JSON.parse(body) as { items?: unknown };
  return Array.isArray(whole.items) ? { items: whole.items, envelope: { ...whole, items: [] } } : { items: [], envelope: whole };
}

const bodies: [string, string][] = [
  // a typical list, metadata first
  ['typical', JSON.stringify({ kind: 'ServiceList', apiVersion: 'v1', metadata: { resourceVersion: '12', continue: 'abc' }, items: [{ metadata: { name: 'a' } }, { metadata: { name: 'b' }, spec: { ports: [{ port: 80 }] } }] })],
  // strings that look like structure, escapes, a backslash before a quote, non-ASCII
  ['tricky strings', JSON.stringify({ metadata: { note: 'x]}"{[' }, items: [{ a: 'q"uote', b: 'back\\slash\\', c: '}]', d: 'é ☃ 😀', 'items': ['nested'] }, { e: '\\"' }] })],
  // items before metadata, and a key that ends like "items"
  ['items first', `{"items":[{"x":1}], "subitems":[1,2], "metadata":{"resourceVersion":"7"}}`],
  // whitespace everywhere, scalar and string elements (dropped later by trimming, but passed on)
  ['scalars', `{ "kind" : "List" ,\n "items" : [ 1 , "two" , null , true , -3.5e2 , { "k" : [ ] } , [ 1 ] ] ,\t"metadata" : { } }`],
  ['empty items', `{"metadata":{"resourceVersion":"1"},"items":[]}`],
  ['no items', `{"metadata":{"resourceVersion":"1"}}`],
  ['null items', `{"metadata":{"resourceVersion":"1"},"items":null}`],
  // "items" as a value, not a key, before a list
  ['items as a value', `{"kind":"items","other":[{"a":1}],"items":[{"b":2}]}`],
];

for (const [name, body] of bodies) {
  t.test(`${name}: whole, at every single cut, and byte by byte`, async (t) => {
    const want = expected(body);
    t.same(split(body, []), want, 'one chunk');
    const length = Buffer.byteLength(body);
    for (let cut = 1; cut < length; cut++) {
      const got = split(body, [cut]);
      if (JSON.stringify(got) !== JSON.stringify(want)) t.fail(`cut at ${cut}`);
    }
    t.same(split(body, Array.from({ length: length - 1 }, (_, i) => i + 1)), want, 'one byte per chunk');
  });
}

t.test('malformed bodies throw SyntaxError', async (t) => {
  t.throws(() => split(`{"items":[{"a":1},{"b":]}`, []), SyntaxError, 'a bad item');
  t.throws(() => split(`{"items":[{"a":1}`, []), SyntaxError, 'cut inside the items');
  t.throws(() => split(`{"metadata":{"a":1},"items":[]`, []), SyntaxError, 'a bad envelope');
  t.throws(() => split(`{"items":[{"a":"open`, []), SyntaxError, 'cut inside a string');
  t.throws(() => split('', []), SyntaxError, 'empty');
});

t.test('items are handed over as soon as they are complete', async (t) => {
  const seen: unknown[] = [];
  const s = new ListSplitter((item) => seen.push(item));
  s.push(Buffer.from('{"metadata":{},"items":[{"a":1},{"b"'));
  t.same(seen, [{ a: 1 }]);
  s.push(Buffer.from(':2}]}'));
  t.same(seen, [{ a: 1 }, { b: 2 }]);
  t.same(s.end(), { metadata: {}, items: [] });
});
