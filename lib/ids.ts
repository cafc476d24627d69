/**
 * Random identifiers (replica ids, log epochs): 96 bits from the platform CSPRNG, base64url.
 * A simulation passes its own seeded `random` so a run replays from its seed.
 */
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

export function randomId(length = 16, random?: () => number): string {
  const bytes = new Uint8Array(length);
  if (random) for (let i = 0; i < length; i++) bytes[i] = Math.floor(random() * 256);
  else globalThis.crypto.getRandomValues(bytes);
  let out = '';
  for (const b of bytes) out += ALPHABET[b & 63];
  return out;
}
