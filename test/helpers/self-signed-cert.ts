/**
 * A self-signed certificate for the TLS tests, made at run time with the Debian `openssl` CLI (no key
 * material in the repository, nothing that expires in a checkout): P-256, valid one day, CN=localhost
 * with subjectAltName IP:127.0.0.1 and DNS:localhost. Made once per process; without `openssl` the
 * tests fail with the package to install (.ci/run installs it), never skip.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requireProgram } from './require-program.js';

/** A certificate and its private key, PEM. `cert` is its own CA: trust it with `ca: cert`. */
export interface SelfSignedCert {
  readonly cert: Buffer;
  readonly key: Buffer;
}

const made = new Map<string, SelfSignedCert>();

/** The process's self-signed certificate for `commonName` (default localhost), made on first use. */
export function selfSignedCert(commonName = 'localhost'): SelfSignedCert {
  const cached = made.get(commonName);
  if (cached !== undefined) return cached;
  const openssl = requireProgram('openssl', 'openssl');
  const dir = mkdtempSync(join(tmpdir(), 'portico-cert-'));
  try {
    const keyPath = join(dir, 'key.pem');
    const certPath = join(dir, 'cert.pem');
    // prettier-ignore
    const args = [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1',
      '-subj', `/CN=${commonName}`, '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost',
      '-keyout', keyPath, '-out', certPath,
    ];
    try {
      execFileSync(openssl, args, { stdio: ['ignore', 'ignore', 'pipe'], timeout: 20_000 });
    } catch (error) {
      const stderr = (error as { stderr?: Buffer }).stderr?.toString().trim() ?? '';
      throw new Error(`openssl could not make a self-signed certificate: ${stderr || (error as Error).message}`, { cause: error });
    }
    const pair: SelfSignedCert = { cert: readFileSync(certPath), key: readFileSync(keyPath) };
    made.set(commonName, pair);
    return pair;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
