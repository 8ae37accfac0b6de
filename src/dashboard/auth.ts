// Who may see a volume on a dashboard listening beyond loopback: HTTP basic authentication (any user name)
// whose password is the volume's dashboard token, an HMAC of its service secret (`ferry dashboard
// --print-token`). Basic rather than a login page: browsers, curl and monitoring tools all speak it and it
// needs no session state; a token rather than the secret itself: a password a browser may save grants only
// reading this page, never signing service requests. A rotated secret's token stays valid for the grace
// period of the old secret (acceptedSecrets), like every other service credential.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { acceptedSecrets } from '../meta/service-auth.js';
import type { ServiceSecrets } from '../meta/types.js';

const LABEL = 'ferry-dashboard-login-1';

export function dashboardToken(secret: string): string {
  return createHmac('sha256', secret).update(LABEL).digest('base64url');
}

/** The password of a basic authorization header (undefined when there is none or it is not basic). */
export function basicPassword(header: string | undefined): string | undefined {
  const m = /^Basic\s+([A-Za-z0-9+/=]+)$/i.exec(header ?? '');
  if (!m) return undefined;
  const text = Buffer.from(m[1]!, 'base64').toString('utf8');
  const i = text.indexOf(':');
  return i < 0 ? undefined : text.slice(i + 1);
}

/** Whether `password` is the dashboard token of one of the volume's accepted secrets. */
export function tokenMatches(password: string, secrets: ServiceSecrets | undefined, now = Date.now()): boolean {
  const given = Buffer.from(password);
  return acceptedSecrets(secrets, now).some((s) => {
    const want = Buffer.from(dashboardToken(s));
    return want.length === given.length && timingSafeEqual(want, given);
  });
}
