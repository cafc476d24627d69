/**
 * The HELLO and SYNC items' wire forms, and ATTEST's (messages.ts lists every message).
 *
 *   HELLO   versions, replicaId, epoch, top, token, expect, history, seen (e, n), attest (tag, then e and n when the
 *           tag is not empty), sync items; then, from protocol 11, in a server's hello to a client whose hello listed 11
 *           (so it reads it: an earlier release refuses trailing bytes), `holds` (epoch-chain.ts heldIndex)
 *   ATTEST  e, n, tag  — a relay's signed statement that it delivered its own dots up to n in epoch e (attest.ts)
 */
import type { Attestation } from '../attest.js';
import { isReplicaId } from '../dvv.js';
import { MAX_SENT_EPOCHS, type EpochEntry } from '../epochs.js';
import { ProtocolError, type Reader, type Writer } from './codec.js';
import { EPOCH, MAX_TOKEN_LENGTH, replicaId, space } from './fields.js';
import { EPOCH_DOTS } from './epoch-wire.js';
import { MsgType, PROTOCOL_VERSIONS, type Hello, type SyncItem } from './messages.js';
import { MAX_COUNTER } from './wire-state.js';

/** Attestation tags are base64url, 22 characters for the 128 bits a relay makes; anything longer is refused. */
const TAG = /^[A-Za-z0-9_-]{1,64}$/;

export function writeSyncItems(w: Writer, items: SyncItem[]): void {
  w.uint(items.length);
  for (const it of items) {
    w.str(it.space);
    w.str(it.cursorEpoch);
    w.uint(it.cursorSeq);
    w.uint(it.top);
    w.uint(it.keys);
  }
}

export function readSyncItems(r: Reader): SyncItem[] {
  const n = r.count(4);
  const out: SyncItem[] = [];
  for (let i = 0; i < n; i++) {
    const s = space(r);
    const cursorEpoch = r.str();
    if (!EPOCH.test(cursorEpoch)) throw new ProtocolError('invalid epoch');
    out.push({ space: s, cursorEpoch, cursorSeq: r.uint(), top: r.uint(), keys: r.uint() });
  }
  return out;
}

export function writeAttestation(w: Writer, a: Attestation): void {
  w.str(a.e);
  w.uint(a.n);
  w.str(a.tag);
}

/** An attestation's fields (they name a dot and an epoch of the sender's; nothing else is trusted in them). */
export function readAttestation(r: Reader): Attestation {
  const e = r.str();
  const n = r.uint();
  const tag = r.str();
  if (e === '' || !EPOCH.test(e) || n <= 0 || n > MAX_COUNTER || !TAG.test(tag)) throw new ProtocolError('invalid attestation');
  return { e, n, tag };
}

export function writeHello(w: Writer, m: Hello): void {
  w.uint(m.versions.length);
  for (const v of m.versions) w.uint(v);
  w.str(m.replicaId);
  w.str(m.epoch);
  w.uint(m.top);
  w.str(m.token);
  w.str(m.expect);
  w.uint(m.history.length);
  for (const [e, from] of m.history) {
    w.str(e);
    w.uint(from);
  }
  w.str(m.seen?.e ?? '');
  w.uint(m.seen?.n ?? 0);
  w.str(m.attest?.tag ?? '');
  if (m.attest) {
    w.str(m.attest.e);
    w.uint(m.attest.n);
  }
  writeSyncItems(w, m.spaces);
  if (m.holds !== undefined) w.uint(m.holds);
}

/** A hello's `holds`: an index (1-based, 0: none) into the history the peer's hello announced, so at most that many. */
function heldOf(r: Reader): number {
  const n = r.uint();
  if (n > MAX_SENT_EPOCHS) throw new ProtocolError('invalid held epoch');
  return n;
}

export function readHello(r: Reader): Hello {
  const type = MsgType.Hello;
  const nv = r.count();
  if (nv > 64) throw new ProtocolError('too many versions');
  const versions: number[] = [];
  for (let i = 0; i < nv; i++) versions.push(r.uint());
  // A peer speaking none of our versions gets a clear refusal (session.ts), not a decoding error.
  if (!versions.some((v) => (PROTOCOL_VERSIONS as readonly number[]).includes(v))) {
    // The rest of the frame is another protocol's: not read.
    r.pos += r.remaining;
    return { type, versions, replicaId: '', epoch: '', top: 0, token: '', expect: '', history: [], spaces: [] };
  }
  const id = replicaId(r, false);
  const epoch = r.str();
  if (!EPOCH.test(epoch) || epoch === '') throw new ProtocolError('invalid epoch');
  const top = r.uint();
  const token = r.str();
  if (token.length > MAX_TOKEN_LENGTH) throw new ProtocolError('token too long');
  const expect = r.str();
  if (expect !== '' && !isReplicaId(expect)) throw new ProtocolError('invalid expected peer');
  const nh = r.count(2);
  if (nh === 0 || nh > MAX_SENT_EPOCHS) throw new ProtocolError('invalid epoch history');
  const history: EpochEntry[] = [];
  for (let i = 0; i < nh; i++) {
    const e = r.str();
    const from = r.uint();
    if (!EPOCH.test(e) || e === '' || (i > 0 && from < history[i - 1]![1])) throw new ProtocolError('invalid epoch history');
    history.push([e, from]);
  }
  if (history[nh - 1]![0] !== epoch || history[nh - 1]![1] > top) throw new ProtocolError('epoch history does not end with the current epoch');
  const seenE = r.str();
  const seenN = r.uint();
  if (!EPOCH.test(seenE) || (seenE === '') !== (seenN === 0)) throw new ProtocolError('invalid delivered-dot record');
  const tag = r.str();
  let attest: Attestation | undefined;
  if (tag !== '') {
    const e = r.str();
    const n = r.uint();
    if (e === '' || !EPOCH.test(e) || n <= 0 || n > MAX_COUNTER || !TAG.test(tag)) throw new ProtocolError('invalid attestation');
    attest = { e, n, tag };
  }
  return {
    type,
    versions,
    replicaId: id,
    epoch,
    top,
    token,
    expect,
    history,
    ...(seenN > 0 ? { seen: { e: seenE, n: seenN } } : {}),
    ...(attest ? { attest } : {}),
    spaces: readSyncItems(r),
    // Only a hello listing 11 may carry it (a client's never does; nothing else may follow the items).
    ...(versions.includes(EPOCH_DOTS) && r.remaining > 0 ? { holds: heldOf(r) } : {}),
  };
}
