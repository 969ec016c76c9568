// The chains map of a nat table parsed for the kube-proxy check: ordinary chains as objects, KUBE-SEP
// chains as rows, and to its readers one ordinary map of every chain.
import t from 'tap';
import type { Chain } from '../../../lib/iptables/types.ts';
import { EndpointRowChain } from '../../../lib/kubeproxy/endpoint-rows.ts';
import { NatChains } from '../../../lib/kubeproxy/nat-chains.ts';
import { parseNodeRules } from '../../../lib/kubeproxy/parse-node-rules.ts';

const SERVICES = 'KUBE-SERVICES';
const SVC = 'KUBE-SVC-AAAAAAAAAAAAAAAA';
const MASQ = 'KUBE-MARK-MASQ';
// declared in this order, between the ordinary chains: rows keep declaration order
const SEP_C = 'KUBE-SEP-CCCCCCCCCCCCCCCC';
const SEP_A = 'KUBE-SEP-AAAAAAAAAAAAAAAA';
const SEP_B = 'KUBE-SEP-BBBBBBBBBBBBBBBB';
const OBJECTS = [SERVICES, SVC, MASQ];
const ROWS = [SEP_C, SEP_A, SEP_B];
const ALL = [...OBJECTS, ...ROWS];

const DUMP = `*nat
:${SERVICES} - [0:0]
:${SEP_C} - [0:0]
:${SVC} - [0:0]
:${SEP_A} - [0:0]
:${MASQ} - [0:0]
:${SEP_B} - [0:0]
-A ${SERVICES} -d 172.30.0.1/32 -p tcp -m tcp --dport 80 -j ${SVC}
-A ${SVC} -m statistic --mode random --probability 0.33333333349 -j ${SEP_C}
-A ${SVC} -m statistic --mode random --probability 0.50000000000 -j ${SEP_A}
-A ${SVC} -j ${SEP_B}
-A ${MASQ} -j MARK --set-xmark 0x4000/0x4000
-A ${SEP_C} -s 10.0.0.3/32 -j KUBE-MARK-MASQ
-A ${SEP_C} -p tcp -m tcp -j DNAT --to-destination 10.0.0.3:80
-A ${SEP_A} -p tcp -m tcp -j DNAT --to-destination 10.0.0.1:80
-A ${SEP_B} -p tcp -m tcp -j DNAT --to-destination 10.0.0.2:80
COMMIT
`;
const natChains = (): NatChains => {
  const chains = parseNodeRules(Buffer.from(DUMP), 'test')[0]?.tables.get('nat')?.chains;
  if (!(chains instanceof NatChains)) throw new Error('expected the nat table to be parsed into NatChains');
  return chains;
};
const names = (chains: Iterable<Chain>): string[] => [...chains].map((c) => c.name);

t.test('counts ordinary chains and endpoint rows alike', async (t) => {
  const chains = natChains();
  t.equal(chains.size, 6, 'size counts both kinds');
  t.equal(chains.rows.live, 3, 'three of them are rows');
  t.same(names(chains.objectChains()), OBJECTS, 'objectChains lists only the chains kept as objects, in declaration order');
});

t.test('finds every chain by name, whether an object or a row', async (t) => {
  const chains = natChains();
  for (const name of ALL) {
    t.equal(chains.get(name)?.name, name, `get finds ${name}`);
    t.ok(chains.has(name), `has ${name}`);
  }
  t.same(ROWS.map((name) => chains.get(name) instanceof EndpointRowChain), [true, true, true], 'a KUBE-SEP chain is its row');
  t.same(OBJECTS.map((name) => chains.get(name) instanceof EndpointRowChain), [false, false, false], 'another chain is an object');
  t.equal((chains.get(SEP_A) as EndpointRowChain).dnat, '10.0.0.1:80', 'a row is found with its rules');
  for (const name of ['KUBE-SEP-DDDDDDDDDDDDDDDD', 'KUBE-NOPE', '']) {
    t.equal(chains.get(name), undefined, `get of an unknown name ("${name}") is undefined`);
    t.notOk(chains.has(name), `has of an unknown name ("${name}") is false`);
  }
});

t.test('lists every chain once, objects first and then rows in declaration order, the same way each time', async (t) => {
  const chains = natChains();
  t.same([...chains.keys()], ALL, 'keys()');
  t.same(names(chains.values()), ALL, 'values()');
  t.same([...chains.entries()].map(([name, c]) => [name, c.name]), ALL.map((name) => [name, name]), 'entries(): each key with its chain');
  t.same([...chains].map(([name]) => name), ALL, 'spread (Symbol.iterator)');
  t.same(new Set(chains.keys()).size, chains.size, 'no chain twice, and as many as size says');

  const seen: [string, Chain, unknown][] = [];
  const self = { me: true };
  chains.forEach(function (this: unknown, c, name, map) { seen.push([name, c, map === chains && this === self]); }, self);
  t.same(seen.map(([name]) => name), ALL, 'forEach visits the same chains in the same order');
  t.ok(seen.every(([name, c, rest]) => c.name === name && rest === true), 'forEach passes each chain, its name, the map and thisArg');

  const values = [...chains.values()];
  t.ok([...chains.entries()].every(([, c], i) => c === values[i]), 'entries() give the very chains values() gives');
  t.ok(seen.every(([, c], i) => c === values[i]), 'and so does forEach');
  t.same([...new Map(chains).keys()], ALL, 'a plain Map copied from it has every chain');
});

t.test('gives the same object for a row each time it is looked up or listed', async (t) => {
  const chains = natChains();
  const row = chains.get(SEP_A);
  t.equal(chains.get(SEP_A), row, 'looked up twice, the same object');
  t.equal([...chains.values()].find((c) => c.name === SEP_A), row, 'listed, the same object');
  t.equal(chains.rows.chain((row as EndpointRowChain).row), row, 'asked of the rows, the same object');
  t.equal(chains.get(SERVICES), chains.get(SERVICES), 'an object chain too');
});

t.test('deletes a row or an object chain by name', async (t) => {
  const chains = natChains();
  const row = chains.get(SEP_A) as EndpointRowChain;
  t.equal(chains.delete(SEP_A), true, 'delete of a row returns true');
  t.ok(row.removed, 'the row is marked removed, for those that hold it');
  t.equal(chains.get(SEP_A), undefined, 'the row is no longer found');
  t.notOk(chains.has(SEP_A), 'has is false for it');
  t.equal(chains.rows.live, 2, 'rows.live counts one fewer');
  t.equal(chains.delete(SEP_A), false, 'deleting it again returns false');

  t.equal(chains.delete(SVC), true, 'delete of an object chain returns true');
  t.equal(chains.get(SVC), undefined, 'the object chain is no longer found');
  t.equal(chains.delete('KUBE-NOPE'), false, 'delete of an unknown name returns false');
  t.equal(chains.delete('KUBE-SEP-DDDDDDDDDDDDDDDD'), false, 'delete of an unknown KUBE-SEP name returns false');

  const left = [SERVICES, MASQ, SEP_C, SEP_B];
  t.equal(chains.size, 4, 'size counts what is left');
  t.same([...chains.keys()], left, 'keys() list what is left');
  t.same(names(chains.values()), left, 'values() list what is left');
  t.same(names(chains.objectChains()), [SERVICES, MASQ], 'objectChains lists the objects left');
});

t.test('clear empties it of both kinds', async (t) => {
  const chains = natChains();
  const rows = ROWS.map((name) => chains.get(name) as EndpointRowChain);
  chains.clear();
  t.equal(chains.size, 0, 'size is 0');
  t.equal(chains.rows.live, 0, 'no row is live');
  t.ok(rows.every((row) => row.removed), 'every row is marked removed');
  t.same([...chains], [], 'nothing is listed');
  t.same([...chains.objectChains()], [], 'no object chain is left');
  t.same(ALL.map((name) => chains.has(name)), ALL.map(() => false), 'no chain is found');
  t.same(chains.rows.unreached(chains.rows.beginVisit()), [], 'no row is left for a visit');
  t.ok(chains.declare(SEP_A, 99), 'a KUBE-SEP chain can be declared again');
  t.same([chains.size, (chains.get(SEP_A) as EndpointRowChain).line, chains.get(SEP_A) === rows[1]], [1, 99, false], 'and is a new row, found by name');
});

t.test('never lists a name twice, even for a KUBE-SEP chain first declared with a policy', async (t) => {
  // Not what iptables-save prints (user chains have no policy), but restore input may say anything.
  const text = `*nat\n:${SEP_A} ACCEPT [0:0]\n:${SEP_A} - [0:0]\n-A ${SEP_A} -j RETURN\nCOMMIT\n`;
  const chains = parseNodeRules(Buffer.from(text), 'test')[0]?.tables.get('nat')?.chains as NatChains;
  t.same([...chains.keys()], [SEP_A], 'the name is listed once');
  t.equal(chains.size, 1, 'size counts it once');
  t.equal(chains.get(SEP_A)?.policy, 'ACCEPT', 're-declaring flushes the chain and keeps its policy, as the plain parse does');
});
