// Secrets never printed: passwords in URLs become ***, and the values of secret-bearing keys of a record are
// hidden (ferry status, info, logs, error lines).
import { redactText, redactUrl } from '../meta/urls.js';

export { redactText, redactUrl };

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
