/**
 * Which device this window plays. `?device=name` opens its own replica (IndexedDB `concord-demo-<name>`),
 * so two windows of one browser act as two devices; without it, the browser's default device, remembered
 * in localStorage (first visit: a random friendly name).
 */
const ADJECTIVES = ['amber', 'brisk', 'calm', 'dusty', 'eager', 'fuzzy', 'gentle', 'hazel', 'ivory', 'jolly', 'keen', 'lucky'];
const ANIMALS = ['otter', 'lynx', 'heron', 'panda', 'koala', 'finch', 'gecko', 'moose', 'quail', 'raven', 'sloth', 'zebra'];

export function randomDeviceName(random: () => number = Math.random): string {
  const pick = (list: readonly string[]) => list[Math.floor(random() * list.length)] ?? list[0]!;
  return `${pick(ADJECTIVES)}-${pick(ANIMALS)}`;
}

/** Device names are kept to what reads well in a title and a database name. */
export function cleanDeviceName(raw: string | null | undefined): string | undefined {
  const name = (raw ?? '').trim().toLowerCase().replace(/[^a-z0-9_-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 32);
  return name || undefined;
}

export interface Device {
  readonly name: string;
  /** The IndexedDB database of this device's replica. */
  readonly dbName: string;
  /** Chosen with ?device= (true) or the browser's default device (false). */
  readonly explicit: boolean;
}

export function chooseDevice(search: string, stored: string | null, random: () => number = Math.random): Device {
  const fromUrl = cleanDeviceName(new URLSearchParams(search).get('device'));
  const name = fromUrl ?? cleanDeviceName(stored) ?? randomDeviceName(random);
  return { name, dbName: `concord-demo-${name}`, explicit: fromUrl !== undefined };
}
