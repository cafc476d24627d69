/**
 * Delivery attestations: how a relay learns from its clients that it was restored from an older copy, without
 * taking any client's word for it.
 *
 * A replica restored from a backup mints again the dots it minted after the copy was taken, for other writes
 * (DESIGN.md: a dot names exactly one value). It learns of the restore from a peer that holds a dot it delivered
 * beyond what its storage holds (epochs.ts lostWrites). Clients and peers believe such a claim; a relay believes it
 * only from a relay of its cluster, since a client's word could make it re-identify at will (issue 11). So a
 * relay signs what it delivers: after a frame carrying its own dots leaves for a client, it sends an ATTEST —
 * (its epoch, its highest own dot delivered, tag) with tag = HMAC-SHA-256(key, id ‖ epoch ‖ dot), truncated to
 * 128 bits — and the client keeps the latest one (`da:<relay>`) and echoes it in its hellos to that relay. The key
 * lives only in the relay's storage: a restored copy holds it too (when it is older than the copy), so it
 * recognises its own signature on a dot it no longer holds; nobody else can make one, and replaying a genuine one
 * only restates what the relay really delivered. A copy older than the key makes a new one and simply learns
 * nothing from the old attestations (as before they existed).
 */
import { hmac } from '@noble/hashes/hmac.js';
import { sha256 } from '@noble/hashes/sha2.js';
import type { Seen } from './epochs.js';
import type { StorageAdapter } from './storage.js';

/** A relay's signed statement: it delivered its own dots up to `n`, in epoch `e`. */
export interface Attestation extends Seen {
  readonly tag: string;
}

const KEY_META = 'attest-key';
/** Received attestations are kept per relay under this prefix. */
export const ATTESTATION_META = 'da:';
const TAG_BYTES = 16;

const keys = new WeakMap<StorageAdapter, Promise<Uint8Array>>();

function toBase64Url(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

function fromBase64Url(text: string): Uint8Array {
  const s = atob(text.replace(/-/g, '+').replace(/_/g, '/'));
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

/** The storage's attestation key: read, or made and stored (durably, before any tag made with it leaves). */
function attestKey(storage: StorageAdapter, random?: () => number): Promise<Uint8Array> {
  let key = keys.get(storage);
  if (!key) {
    key = (async () => {
      const stored = await storage.transact(async (tx) => {
        const have = await tx.getMeta<string>(KEY_META);
        if (typeof have === 'string') return have;
        const bytes = new Uint8Array(32);
        // A simulation's seeded randomness keeps its runs reproducible; anything else takes the platform CSPRNG.
        if (random) for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(random() * 256);
        else globalThis.crypto.getRandomValues(bytes);
        const fresh = toBase64Url(bytes);
        tx.setMeta(KEY_META, fresh);
        return fresh;
      });
      return fromBase64Url(stored);
    })();
    keys.set(storage, key);
    key.catch(() => keys.delete(storage));
  }
  return key;
}

async function tagOf(storage: StorageAdapter, id: string, e: string, n: number, random?: () => number): Promise<string> {
  // Synchronous once the key is read (no WebCrypto round trip: a simulated run stays deterministic).
  const mac = hmac(sha256, await attestKey(storage, random), new TextEncoder().encode(`concord-attest\u0000${id}\u0000${e}\u0000${n}`));
  return toBase64Url(mac.subarray(0, TAG_BYTES));
}

/** Signs that replica `id` (this storage's) delivered its own dots up to `n` in epoch `e`. */
export async function attest(storage: StorageAdapter, id: string, e: string, n: number, random?: () => number): Promise<Attestation> {
  return { e, n, tag: await tagOf(storage, id, e, n, random) };
}

/** Whether `a` carries this storage's own signature for replica `id`. */
export async function verifyAttestation(storage: StorageAdapter, id: string, a: Attestation): Promise<boolean> {
  // No key, no signature of ours anywhere (and none is made for a check).
  if (typeof (await storage.getMeta<string>(KEY_META)) !== 'string') return false;
  const want = await tagOf(storage, id, a.e, a.n);
  if (want.length !== a.tag.length) return false;
  let diff = 0;
  for (let i = 0; i < want.length; i++) diff |= want.charCodeAt(i) ^ a.tag.charCodeAt(i);
  return diff === 0;
}

/** Keeps the latest attestation `peer` sent (a later one of the same epoch never names fewer dots). */
export async function keepAttestation(storage: StorageAdapter, peer: string, a: Attestation): Promise<void> {
  await storage.transact(async (tx) => {
    const have = await tx.getMeta<Attestation>(ATTESTATION_META + peer);
    if (have && have.e === a.e && have.n >= a.n) return;
    tx.setMeta(ATTESTATION_META + peer, { e: a.e, n: a.n, tag: a.tag });
  });
}

/** The attestation `peer` last sent us, if any. */
export async function attestationOf(storage: StorageAdapter, peer: string): Promise<Attestation | undefined> {
  const a = await storage.getMeta<Attestation>(ATTESTATION_META + peer);
  return a && typeof a.tag === 'string' ? a : undefined;
}
