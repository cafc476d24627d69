/**
 * Two links to one peer (the relink simulator family's class: an app that connects twice to the same relay or peer,
 * or opens a new link before it closes the old one). Closing one of them leaves the peer linked: the lacks told by it
 * (LEFT, lib/sync/lacks.ts) still count, are not ranked among the first dropped past MAX_PEERS, and an answer to a NEED the
 * other link sent still ends the lack it asked for. And a peer linked again, not yet told again, is linked: its lacks
 * are not dropped first either.
 */
import { describe, expect, it } from 'vitest';
import { ConcordError } from '../../lib/errors.js';
import { pairTransports, type Link, type Replica } from '../../lib/index.js';
import type { SyncHub } from '../../lib/sync/hub.js';
import { MAX_PEERS } from '../../lib/sync/lacks.js';
import { MsgType, PROTOCOL_VERSIONS, type Left } from '../../lib/sync/messages.js';
import { FRAME, replica as opened, track } from '../review/narrow-links.js';
import { until } from './support.js';

const replica = (): Promise<Replica> => opened(false, PROTOCOL_VERSIONS);
const hubOf = (r: Replica) => (r as unknown as { hub: SyncHub }).hub;
const tooLarge = (errors: unknown[]) => errors.filter((e) => e instanceof ConcordError && e.code === 'VALUE_TOO_LARGE').length;
const left = (k: string): Left => ({ type: MsgType.Left, space: 's', keys: [[k, [{ r: 'abc', e: '', n: 1 }]]] });

/** `reader` linked to a holder of "big" (over FRAME) by `count` narrow links; resolves once told big is left out. */
async function linkedTwice(count = 2): Promise<{ holder: Replica; reader: Replica; links: Link[] }> {
  const holder = await replica();
  await holder.space('s').put('big', 'b'.repeat(30_000));
  await holder.space('s').put('small', 1);
  const reader = await replica();
  const errors: unknown[] = [];
  reader.on('error', (e) => errors.push(e));
  const links: Link[] = [];
  for (let i = 0; i < count; i++) {
    const [th, tr] = pairTransports({ maxFrameBytes: FRAME });
    track(holder.connect(th, { antiEntropyInterval: 0 }));
    links.push(track(reader.connect(tr, { antiEntropyInterval: 0 })));
  }
  await until(async () => (await reader.space('s').get('small')) !== undefined && tooLarge(errors) >= count && links.every((l) => l.status === 'synced'), 'small, big told left out on every link');
  return { holder, reader, links };
}

/** Lacks told by `n` other peers (as their LEFTs would): the reader's lacks reach MAX_PEERS peers. */
function fillPeers(reader: Replica, n: number): void {
  for (let i = 0; i < n; i++) hubOf(reader).lacks.told(`peer${i}`, left('k'), true);
}

describe('two links to one peer', () => {
  it('closing one: the peer is still linked, its lacks count and are not the first dropped past MAX_PEERS', async () => {
    const { holder, reader, links } = await linkedTwice();
    links[0]!.close();
    expect(reader.status).not.toBe('synced');
    fillPeers(reader, MAX_PEERS - 1);
    // One more peer past the bound: no peer is unlinked, so its LEFT is refused (a protocol error on its link), and the
    // holder's lack stays (it was dropped, and the reader said 'synced' without big).
    expect(() => hubOf(reader).lacks.told('one more', left('k'), true)).toThrow(/more than/);
    expect(hubOf(reader).lacks.keys(holder.replicaId, 's')).toEqual(['big']);
    expect(await reader.space('s').get('big')).toBeUndefined();
    expect(reader.status, "'synced' without big").not.toBe('synced');
  });

  it('closing one: an answer to the NEED the other link sent still ends the lack it asked for', async () => {
    const { holder, reader, links } = await linkedTwice();
    const lacks = hubOf(reader).lacks;
    lacks.asked(holder.replicaId, 's', ['big']); // the other link's NEED (space-sync.ts askLacked)
    links[0]!.close();
    lacks.answered(holder.replicaId, 's', ['big']); // its answer: the holder's whole state of big (joined)
    expect(lacks.keys(holder.replicaId, 's'), 'a whole answer to a NEED ends the lack').toEqual([]);
  });

  it('a peer linked again (not told again yet) is linked: its lacks are not the first dropped', async () => {
    const { holder, reader, links } = await linkedTwice(1);
    links[0]!.close();
    const [th, tr] = pairTransports({ maxFrameBytes: FRAME });
    track(holder.connect(th, { antiEntropyInterval: 0 }));
    const again = track(reader.connect(tr, { antiEntropyInterval: 0 }));
    await until(() => again.runsTo === holder.replicaId, 'linked again');
    fillPeers(reader, MAX_PEERS - 1);
    expect(() => hubOf(reader).lacks.told('one more', left('k'), true)).toThrow(/more than/);
    expect(hubOf(reader).lacks.keys(holder.replicaId, 's')).toEqual(['big']);
  });
});
