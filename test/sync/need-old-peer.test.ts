// A NEED from a peer of an earlier release (below protocol 11) for a key whose state names an epoch by the time it is
// answered (docs/design/epochs-build.md, item 6). The peer asked because it could not resolve our delta of the key; it
// holds its cursor and every ACK back until the key comes whole, and a state naming an epoch never goes to it (left out,
// and a live typed value tells no context either). Before the answer said anything of such a key, the peer waited for
// good: the link stayed 'syncing' on both ends and, anti-entropy waiting for 'settled', nothing ever released it (soak
// at SIM_SPEAKS=mixed, mixed seed 1734003383: c, protocol [5, 6, 7], held doc0 from b, speaking 11, for the whole run).
import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { flushDoc, openDoc } from '../../adapters/yjs/index.js';
import { namesEpochs } from '../../lib/dvv.js';
import { ConcordError } from '../../lib/errors.js';
import { memoryStorage, openReplica, pairTransports, type Replica } from '../../lib/index.js';
import { EPOCH_DOTS } from '../../lib/sync/epoch-wire.js';
import { MsgType, PROTOCOL_VERSIONS } from '../../lib/sync/messages.js';
import { gate } from './gate.js';
import { deltaOnLostBase } from './lost-base.js';
import { synced, until } from './support.js';

const OLD: readonly number[] = PROTOCOL_VERSIONS.filter((v) => v < EPOCH_DOTS);
const WITH_11: readonly number[] = [...OLD, EPOCH_DOTS];
const KEY = 'doc';
const LINK = { antiEntropyInterval: 0, backoff: { base: 5, max: 20 } } as const;
const cursorOf = (r: Replica, peer: Replica) => r.core.storage.getMeta<{ e: string; s: number }>(`c:${peer.replicaId}:s`);
const text = (d: Y.Doc) => d.getText('body').toString();

describe('a NEED from a peer below 11 for a key our state of which names an epoch', () => {
  it('is answered so the peer resolves it: its cursor and ACKs move on, both ends reach synced, and the tagged state stays withheld', async () => {
    const errors: unknown[] = [];
    // a speaks 11 and does not tag (its storage met no peer at 11 before this open); b runs an earlier release.
    const a = await openReplica({ storage: memoryStorage(), speaks: WITH_11 });
    const b = await openReplica({ storage: memoryStorage(), speaks: OLD });
    a.on('error', (e) => errors.push(e));
    a.space('s');
    b.space('s');
    const [ta, tb] = pairTransports();
    const gb = gate(tb);
    a.connect(ta, LINK);
    b.connect(gb.transport, LINK);
    const da = await openDoc(a.space('s'), KEY, { writeDelay: 0 });
    const db = await openDoc(b.space('s'), KEY, { writeDelay: 0 });
    for (let i = 0; i < 20; i++) {
      da.getText('body').insert(text(da).length, `line ${i}\n`);
      await flushDoc(da);
    }
    await synced(a, b);
    const cursorBefore = (await cursorOf(b, a))!.s;

    // b writes over the version both hold while its frames to a are held; a's next edit goes to b as a delta on the
    // version b no longer holds, and b asks for the key whole (the NEED is held with b's frames).
    await deltaOnLostBase(da, db, gb);
    await until(() => gb.sent.some((f) => f[0] === MsgType.Need), 'b asking for the whole state');

    // Before the NEED arrives, a tagging replica c (fresh, it tags from its meeting with a at 11) edits the document:
    // a's state of it now names an epoch, which b cannot carry.
    const c = await openReplica({ storage: memoryStorage(), speaks: WITH_11 });
    c.space('s');
    const [tc, tac] = pairTransports();
    c.connect(tc, LINK);
    a.connect(tac, LINK);
    await until(async () => (await c.space('s').get(KEY)) !== undefined, 'the document on c');
    const dc = await openDoc(c.space('s'), KEY, { writeDelay: 0 });
    dc.getText('body').insert(0, 'C');
    await flushDoc(dc);
    await until(async () => namesEpochs((await a.core.storage.get('s', KEY))!), "c's tagged edit joined on a");

    gb.release();
    // The NEED is answered: b resolves the key, stores its cursor past the held frames and acknowledges them.
    await until(async () => (await cursorOf(b, a))!.s > cursorBefore, "b's cursor past the frames it held");
    await synced(a, b, c);
    // Nothing naming an epoch reached b, and a said why it withheld the key.
    expect(namesEpochs((await b.core.storage.get('s', KEY))!)).toBe(false);
    expect(errors.some((e) => e instanceof ConcordError && e.code === 'PROTOCOL' && e.message.includes(JSON.stringify(KEY)))).toBe(true);
    // b's own edit reached a and c; the edits of a and c wait for b's upgrade.
    await until(() => text(dc).includes('B') && text(da).includes('B'), "b's edit on a and c");
    expect(text(db)).not.toContain('C');
    for (const d of [da, db, dc]) d.destroy();
    for (const r of [a, b, c]) await r.close();
  });
});
