/**
 * Review rev46b: open asks (open-asks.ts) are kept per peer id, and one principal's read-only session may say hello as
 * its writable replica (principals.ts). A relay leaves a key out toward that replica below 11 and asks for its state
 * (NEED); the link drops before the answer, and the ask stays open so the replica's next link sends the key again. A
 * read-only session under the same id answers in between — its answer refused (need-answers.ts `refuse`), read only into
 * its own link's model — and must not settle the writer's ask: the context alone it buys goes to the read-only session,
 * not to the writer, which would keep a version the state superseded for good (the restore-once 1743400010 case).
 */
import { describe, expect, it } from 'vitest';
import type { KeyState } from '../../lib/dvv.js';
import { decodeMessage, encodeMessage, MsgType, PROTOCOL_VERSIONS, type Message } from '../../lib/sync/messages.js';
import { MAX_OPEN, OpenAsks } from '../../lib/sync/open-asks.js';
import { Wire } from '../../lib/sync/wire.js';
import { needLink } from './need-link.js';

/** Our state of the key: W's version 7 over a context holding A's tagged point (left out below 11). */
const ours: KeyState = { vs: [{ r: 'W', n: 7, t: 1, c: 0, v: '"x"' }], cc: { W: 7, A: 3 }, pts: { A: [{ e: 'E1', n: 3 }] } };
/** A claim of holding W's version 5 (one ours superseded). */
const claim: KeyState = { vs: [{ r: 'W', n: 5, t: 1, c: 0, v: '"old"' }], cc: { W: 5 } };

/** A link of the relay to `peer` below 11, its asks kept in `asks`; `readOnly`: the peer's states are refused. */
function link(asks: OpenAsks, peer: string, readOnly: boolean) {
  const wire = new Wire((e) => void e, () => {}, undefined, () => asks, () => readOnly);
  const receiver = new Wire((e) => void e);
  wire.start('relay', peer, 0);
  receiver.start(peer, 'relay', 0);
  return needLink(wire, receiver);
}
const asked = (frames: readonly Message[]) => frames.flatMap((m) => (m.type === MsgType.Need ? m.keys.map(([k]) => k) : []));

describe("a read-only session under the writer's id answers the writer's open ask", () => {
  it("the writer's next link still sends the key again", () => {
    const asks = new OpenAsks();
    const first = link(asks, 'X', false);
    first.send({ type: MsgType.Changes, space: 's', upTo: 9, entries: [['k', ours]] });
    expect(asked(first.frames)).toEqual(['k']); // then the link drops: no answer
    const reader = link(asks, 'X', true);
    reader.send({ type: MsgType.Changes, space: 's', upTo: 9, entries: [['k', ours]] });
    expect(asked(reader.frames)).toEqual(['k']);
    reader.needs.refuse({ type: MsgType.Changes, space: 's', upTo: 0, entries: [['k', claim]] });
    const next = link(asks, 'X', false);
    expect(next.wire.model.reopened('s')).toEqual(['k']);
    // The read-only session's own ask, answered, is settled: its next link sends nothing again.
    expect(link(asks, 'X', true).wire.model.reopened('s')).toEqual([]);
  });

  it("the read-only session's asks left open are its own: the writer's next link sends nothing of them", () => {
    const asks = new OpenAsks();
    const reader = link(asks, 'X', true);
    reader.send({ type: MsgType.Changes, space: 's', upTo: 9, entries: [['k', ours]] });
    expect(asked(reader.frames)).toEqual(['k']); // dropped: no answer
    expect(link(asks, 'X', false).wire.model.reopened('s')).toEqual([]);
    expect(link(asks, 'X', true).wire.model.reopened('s')).toEqual(['k']);
  });
});

// rev46e: a read-only session's asks are kept under `<peer>\0read` (wire.ts start). A writable client naming itself so
// would settle and re-ask them: its hello does not decode (a replica id is [A-Za-z0-9_-]{1,64}, dvv.ts isReplicaId).
describe("a replica id naming another's read-only asks", () => {
  it('a hello whose replicaId ends in \\0read is refused as the frame is read', () => {
    const hello = (replicaId: string) =>
      encodeMessage({ type: MsgType.Hello, versions: [...PROTOCOL_VERSIONS], replicaId, epoch: 'Ab3dEf9h', top: 0, token: '', expect: '', history: [['Ab3dEf9h', 0]], spaces: [] });
    expect(decodeMessage(hello('writer1'), { maxValueBytes: 1024 })).toMatchObject({ replicaId: 'writer1' });
    expect(() => decodeMessage(hello('writer1\u0000read'), { maxValueBytes: 1024 })).toThrow(/invalid replica id/);
  });
});

// sec49: asks are bounded (MAX_OPEN, all peers'), and past the bound the peer that asked least recently lost all of its
// asks. A read-only session's asks were held in the same bound: any reader (a fresh id, a protocol-10 hello, nothing
// written) could make the relay ask past MAX_OPEN and push out every writer's asks, stored ones too. Its asks are
// bounded apart now: a reader pushes out only readers'.
describe("a reader's asks past the bound", () => {
  it("push out no writer's ask", () => {
    const asks = new OpenAsks();
    const writer = link(asks, 'W', false);
    writer.send({ type: MsgType.Changes, space: 's', upTo: 9, entries: [['k', ours]] });
    expect(asked(writer.frames)).toEqual(['k']); // the link drops: no answer
    // A link asks at most 4 096 keys (peer-model.ts): five readers' links, 20 480 asks, past MAX_OPEN.
    for (let r = 0; r < 5; r++) {
      const reader = link(asks, `R${r}`, true);
      for (let i = 0; i < 4096; i += 1024) {
        const keys = Array.from({ length: 1024 }, (_, j) => `r/${i + j}`);
        reader.send({ type: MsgType.Changes, space: 's', upTo: 10 + i, entries: keys.map((k) => [k, ours] as const) });
      }
      expect(asked(reader.frames).length, 'the reader was asked every key it was sent').toBe(4096);
    }
    expect(link(asks, 'W', false).wire.model.reopened('s'), "the writer's ask").toEqual(['k']);
    // The readers' asks are bounded apart: the least recent reader's went.
    expect(asks.held - asks.size).toBeLessThanOrEqual(MAX_OPEN);
    expect(link(asks, 'R0', true).wire.model.reopened('s')).toEqual([]);
    expect(link(asks, 'R4', true).wire.model.reopened('s').length).toBe(4096);
  });

  // sec50: apart, the readers' asks had a MAX_OPEN of their own beside the writers': the relay held up to 2 × MAX_OPEN
  // ids (each `space\0key`, a key up to 1 024 characters). All asks together stay within MAX_OPEN now; readers have the
  // room writers leave, and a writer asking past it takes the readers' room, never another writer's.
  it('hold no more than MAX_OPEN ids with the writers\' together; a writer asking takes the readers\' room', () => {
    const asks = new OpenAsks();
    const send = (l: ReturnType<typeof link>, prefix: string, n: number) => {
      for (let i = 0; i < n; i += 1024) {
        const keys = Array.from({ length: Math.min(1024, n - i) }, (_, j) => `${prefix}/${i + j}`);
        l.send({ type: MsgType.Changes, space: 's', upTo: 10 + i, entries: keys.map((k) => [k, ours] as const) });
      }
    };
    // Writers ask 12 288 keys (three links of 4 096), then five readers 20 480.
    for (let w = 0; w < 3; w++) send(link(asks, `W${w}`, false), `w${w}`, 4096);
    expect(asks.size).toBe(3 * 4096);
    for (let r = 0; r < 5; r++) send(link(asks, `R${r}`, true), `r${r}`, 4096);
    expect(asks.held, 'all asks held, readers\' included').toBeLessThanOrEqual(MAX_OPEN);
    expect(asks.size, "no writer's ask went").toBe(3 * 4096);
    expect(link(asks, 'R4', true).wire.model.reopened('s').length, 'the latest reader kept the room writers leave').toBe(MAX_OPEN - 3 * 4096);
    // A writer asking 4 096 more fills the bound: the readers' asks go, the writers' all stay.
    send(link(asks, 'W3', false), 'w3', 4096);
    expect(asks.held).toBeLessThanOrEqual(MAX_OPEN);
    expect(asks.size).toBe(4 * 4096);
    for (let w = 0; w < 4; w++) expect(link(asks, `W${w}`, false).wire.model.reopened('s').length).toBe(4096);
    expect(link(asks, 'R4', true).wire.model.reopened('s')).toEqual([]);
  });
});
