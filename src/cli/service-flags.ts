// --tls-cert/--tls-key/--tls-ca/--insecure of the commands that serve a FerryFS endpoint (meta-server,
// mirror run, cache serve, mount/gateway as cache-group members): one spelling and one warning for all.
import { renameSync, rmSync, writeFileSync } from 'node:fs';
import { UsageError, flag, str, type OptionSpec, type Parsed } from './args.js';
import { exposureWarning, type TlsFiles } from '../meta/service-auth.js';

export const TLS_FLAGS: Record<string, OptionSpec> = {
  'tls-cert': { type: 'string', arg: 'FILE', help: 'serve TLS with this certificate (PEM; with --tls-key)' },
  'tls-key': { type: 'string', arg: 'FILE', help: 'the private key of --tls-cert (PEM)' },
  'tls-ca': { type: 'string', arg: 'FILE', help: 'require client certificates signed by this CA (mutual TLS)' },
  insecure: { type: 'boolean', help: 'listen beyond loopback without TLS and without the warning' },
};

export function tlsOf(p: Parsed): TlsFiles | undefined {
  const [cert, key, ca] = [str(p, 'tls-cert'), str(p, 'tls-key'), str(p, 'tls-ca')];
  if (!cert && !key && !ca) return undefined;
  if (!cert || !key) throw new UsageError('TLS needs both --tls-cert and --tls-key');
  return { cert, key, ca };
}

/** Warns (stderr) when `what` listens beyond this machine in clear text, unless --insecure. */
export function warnExposed(p: Parsed, what: string, host: string): void {
  const w = exposureWarning(what, host, !!str(p, 'tls-cert'), flag(p, 'insecure'));
  if (w) process.stderr.write(w);
}

/** Writes a secret to FILE, mode 0600, atomically (a client re-reading it never sees half of it). */
export function writeSecretFile(file: string, secret: string): void {
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    writeFileSync(tmp, `${secret}\n`, { mode: 0o600, flag: 'wx' });
    renameSync(tmp, file);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw new UsageError(`cannot write the service secret to ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}
