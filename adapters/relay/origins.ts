/**
 * The Origin allowlist, checked at the WebSocket upgrade. Browsers send `Origin`; other clients (Node)
 * usually do not, and are let through: the token, not the Origin, is what authenticates them.
 *
 * - `origins` given: an Origin header must equal one of them (compared as URL origins; '*' allows any).
 * - no `origins`, relay with a secret: any Origin (a web page cannot read another origin's token).
 * - no `origins`, relay without a secret: only loopback origins — otherwise any web page the user opens
 *   could write to a local relay that grants every right without a token.
 */

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

function normalize(origin: string): string | undefined {
  try {
    return new URL(origin).origin;
  } catch {
    return undefined;
  }
}

export type OriginCheck = (origin: string | undefined) => boolean;

export function originCheck(origins: readonly string[] | undefined, open: boolean): OriginCheck {
  if (origins && origins.length > 0) {
    if (origins.includes('*')) return () => true;
    const allowed = new Set(origins.map((o) => normalize(o) ?? o));
    return (origin) => origin === undefined || allowed.has(normalize(origin) ?? origin);
  }
  if (!open) return () => true;
  return (origin) => {
    if (origin === undefined) return true;
    try {
      return LOOPBACK_HOSTS.has(new URL(origin).hostname);
    } catch {
      return false;
    }
  };
}

/** Hosts that only this machine can reach. */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || /^127(\.\d{1,3}){3}$/.test(h);
}
