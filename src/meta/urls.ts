// Metadata URLs written into records other processes read (a mirror's source, a source's mirrors) must mean
// the same from any directory: an SQLite URL with a relative path is made absolute.
import { resolve } from 'node:path';

export function absoluteMetaUrl(url: string): string {
  const m = /^(sqlite3?):\/\/([^?]*)(\?.*)?$/i.exec(url);
  if (!m || m[2]!.startsWith('/') || m[2] === '') return url;
  return `${m[1]}://${resolve(decodeURIComponent(m[2]!))}${m[3] ?? ''}`;
}

/** A URL without its password, for records and messages. */
export function redactUrl(raw: string): string {
  try {
    const u = new URL(raw);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return raw;
  }
}

/** Text (an error line, a log line, a record field) with the password of any URL in it replaced by ***. */
export function redactText(text: string): string {
  return text.replace(/(\/\/[^:/@\s]*):[^@/\s]*@/g, '$1:***@');
}

/** A copy of a record whose secret-looking fields (secret, password, passphrase) are *** and URLs redacted. */
export function redacted<T>(record: T): T {
  return JSON.parse(
    JSON.stringify(record, (k, v) => {
      if (typeof v !== 'string') return v;
      if (/secret|password|passphrase/i.test(k)) return '***';
      return redactText(v);
    }),
  ) as T;
}
