/**
 * withheld-passed.ts on a real replica, through a session stand-in that records the repair states sent: which withheld
 * keys a resumed stream sends again, and when their acknowledgement counts them held. The case the resumed cursor's
 * distrust is for (withheld 1488: a peer restored from a copy, under a new id, resuming past a key its old identity's
 * link left out) is one whose link leaves the key out again: it must stay withheld. (A replica restored with
 * `restored: true` makes a fresh link that resumes from no cursor, so this is driven here by hand.)
 */
import { afterEach, describe, expect, it } from 'vitest';
import { memoryStorage, openReplica, type Replica } from '../../lib/index.js';
import type { Entry } from '../../lib/sync/messages.js';
import { RepairAcks } from '../../lib/sync/repair-acks.js';
import type { SessionPort } from '../../lib/sync/space-sync.js';
import { streamAcked } from '../../lib/sync/withheld-passed.js';
import { SPEAKS_10 } from '../support/raw-versions.js';
import { until } from './support.js';

const open: Replica[] = [];
afterEach(async () => {
  for (const r of open.splice(0)) await r.close();
});

/** A writer of `big`, withheld from 'old' whose cursor passed it: pending, held nowhere. */
async function withheldWrite() {
  const r = await openReplica({ storage: memoryStorage(), speaks: SPEAKS_10 });
  open.push(r);
  await r.space('s').put('small', 1);
  const w = await r.space('s').put('big', 'x');
  let synced = false;
  void w.synced.then(() => (synced = true));
  const seq = (await r.core.storage.get('s', 'big'))!.seq;
  r.core.acks.withhold('old', 's', 'big', seq);
  r.core.acks.ack('s', seq, 'old');
  await until(() => r.pending === 1, 'small acknowledged, big kept');
  return { r, seq, synced: () => synced };
}

/** A session with `peer` whose repair frames are recorded; `leaveOut`: its link leaves each key out (withholds it). */
function session(r: Replica, peer: string, leaveOut = false) {
  const repairs = new RepairAcks();
  const sent: Entry[][] = [];
  const port = {
    core: r.core,
    closed: false,
    peer: { replicaId: peer },
    // A session that may write the space: a read-only one's acknowledgements count nothing (test/security/readonly-acks).
    rightsFor: () => 'write',
    sendRepair: async (space: string, entries: Entry[]) => {
      if (leaveOut) for (const [key] of entries) r.core.acks.withhold(peer, space, key);
      sent.push(entries);
      repairs.sent();
    },
    fail: (e: unknown) => {
      throw e;
    },
  } as unknown as SessionPort;
  return { port, repairs, sent };
}

const turns = () => new Promise((resolve) => setTimeout(resolve, 20));

describe('a resumed stream past a withheld key', () => {
  it('sends it again; its acknowledgement counts it held', async () => {
    const { r, seq, synced } = await withheldWrite();
    const s = session(r, 'wide');
    streamAcked(s.port, 's', seq, true, s.repairs);
    await until(() => s.sent.length === 1, 'the key sent again');
    expect(s.sent[0]!.map(([k]) => k)).toEqual(['big']);
    await turns();
    expect(r.pending, 'not before the peer acknowledged it').toBe(1);
    s.repairs.acked();
    await until(() => r.pending === 0, 'big held by the peer');
    await until(synced, "big's w.synced");
  });

  it('keeps it withheld where the link leaves it out again (a peer restored under a new id)', async () => {
    const { r, seq, synced } = await withheldWrite();
    const s = session(r, 'restored', true);
    streamAcked(s.port, 's', seq, true, s.repairs);
    await until(() => s.sent.length === 1, 'the key sent again');
    s.repairs.acked();
    await turns();
    expect(r.pending).toBe(1);
    expect(synced()).toBe(false);
    expect(r.core.acks.isWithheldFrom('restored', 's', 'big')).toBe(true);
  });

  it('sends nothing to the peer it was withheld from, nor where the cursor is below its record, nor after anti-entropy', async () => {
    const { r, seq } = await withheldWrite();
    const cases: Array<[peer: string, upTo: number, resumed: boolean]> = [['old', seq, true], ['wide', seq - 1, true], ['wide', seq, false]];
    for (const [peer, upTo, resumed] of cases) {
      const s = session(r, peer);
      streamAcked(s.port, 's', upTo, resumed, s.repairs);
      await turns();
      expect(s.sent, `${peer} at ${upTo}${resumed ? ', resumed' : ''}`).toEqual([]);
      // An acknowledgement of frames sent under the peer's id (after anti-entropy) counts the key by itself.
      expect(r.pending).toBe(resumed ? 1 : 0);
    }
  });

  it('counts nothing when the peer refused the states (read-only)', async () => {
    const { r, seq } = await withheldWrite();
    const s = session(r, 'reader');
    streamAcked(s.port, 's', seq, true, s.repairs);
    await until(() => s.sent.length === 1, 'the key sent again');
    s.repairs.refused();
    await turns();
    expect(r.pending).toBe(1);
  });
});
