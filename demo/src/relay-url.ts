/**
 * The relay a demo page syncs with: the one that serves it. `?relay=` may name a WebSocket URL on the page's own
 * host (another port: a relay beside a development server), never another host: a link to the demo naming a relay of
 * its author's would otherwise send every item, note and document of the device's replica there, and take its writes.
 */
export interface PageLocation {
  readonly protocol: string;
  readonly host: string;
  readonly hostname: string;
  readonly search: string;
}

export function relayUrl(page: PageLocation): { url: string; refused?: string } {
  const own = `${page.protocol === 'https:' ? 'wss' : 'ws'}://${page.host}`;
  const given = new URLSearchParams(page.search).get('relay');
  if (!given) return { url: own };
  let url: URL;
  try {
    url = new URL(given);
  } catch {
    return { url: own, refused: given };
  }
  if ((url.protocol !== 'ws:' && url.protocol !== 'wss:') || url.hostname !== page.hostname) return { url: own, refused: given };
  return { url: url.href };
}
