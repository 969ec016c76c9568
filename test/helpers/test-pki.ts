/**
 * Certificates made at test time with the `openssl` CLI: a CA, and a server certificate for
 * 127.0.0.1 (subjectAltName IP:127.0.0.1) signed by it, so the fake API server can speak HTTPS
 * and the client verifies it as it would a real API server; also one the CA signed for another
 * address. P-256 keys, valid for one day.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A CA and a server certificate it signed, PEM. */
export interface TestPki {
  /** The CA certificate (what a client trusts). */
  caCert: string;
  /** The server's certificate and key. */
  cert: string;
  key: string;
  /** A server certificate the same CA signed for 127.0.0.2 only (wrong name for 127.0.0.1). */
  otherAddress: { cert: string; key: string };
}

const openssl = (dir: string, args: string[]): void => {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
};

/** Makes a fresh CA (named `caName`) and server certificates signed by it. */
export function makeTestPki(caName = 'dataplane-sentinel-test-ca'): TestPki {
  const dir = mkdtempSync(join(tmpdir(), 'dps-pki-'));
  try {
    const newKey = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
    openssl(dir, ['req', '-x509', ...newKey, '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '1', '-subj', `/CN=${caName}`]);
    const read = (name: string): string => readFileSync(join(dir, name), 'utf8');
    const server = (name: string, ip: string, serial: number): { cert: string; key: string } => {
      openssl(dir, ['req', ...newKey, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${ip}`]);
      writeFileSync(join(dir, `${name}.ext`), `subjectAltName=IP:${ip}\nextendedKeyUsage=serverAuth\nbasicConstraints=critical,CA:FALSE\n`);
      openssl(dir, ['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-set_serial', String(serial), '-days', '1', '-extfile', `${name}.ext`, '-out', `${name}.crt`]);
      return { cert: read(`${name}.crt`), key: read(`${name}.key`) };
    };
    return { caCert: read('ca.crt'), ...server('server', '127.0.0.1', 2), otherAddress: server('other', '127.0.0.2', 3) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
