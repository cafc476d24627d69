// The simulation is reproducible: one seed, one run — the same frames at the same virtual times.
import { describe, expect, it } from 'vitest';
import { pendingFeatures } from './pending.js';
import { makeSchedule, type Family } from './schedule.js';
import { runSchedule } from './run-schedule.js';

/** These seeds were found, and their fixes proven, while no simulated storage could tell a copy: they replay so. */
const RECORDED = { copiesTold: false } as const;
import { MsgType } from '../../lib/sync/messages.js';
import { namesEpochs } from '../../lib/dvv.js';

type Speaks = NonNullable<Parameters<typeof runSchedule>[1]>['speaks11'];

/**
 * The schedule passes beside peers of earlier releases (SIM_SPEAKS=mixed: the default since 11 is announced), at 11,
 * and with every node at 10 (the default before) — or at the `modes` given.
 */
async function passesAtEach(seed: number, family: Family, jitter: boolean, modes: readonly Speaks[] = ['beside-earlier', true, 'at-10'], disabled = pendingFeatures()): Promise<void> {
  const s = makeSchedule(seed, { family, disabled });
  for (const speaks11 of modes) {
    expect((await runSchedule(s, { jitter, speaks11 })).problems, `seed ${seed} (${family}) at ${String(speaks11)}`).toEqual([]);
  }
}

describe('simulated runs replay from their seed', () => {
  it.each([3, 26, 77])('seed %i runs the same twice', async (seed) => {
    const first = await runSchedule(makeSchedule(seed, { disabled: pendingFeatures() }), RECORDED);
    const second = await runSchedule(makeSchedule(seed, { disabled: pendingFeatures() }), RECORDED);
    expect(first.problems).toEqual([]);
    expect(second).toEqual(first);
    expect(first.bytes).toBeGreaterThan(0);
  });

  // mixed seed 6, with the synced-durable check (pending for CI as a whole, on for this seed): b's write of c1 at its
  // counter 4 was rewritten, and the rewrite was not durable when b's first anti-entropy run with a read its index;
  // the run left c1 to the log stream, which starts after the run's top (4), and the run's end counted b's log to 4
  // as held by a: c1@4 was reported synced while no node but b held anything of it. A run that leaves a key out
  // now confirms nothing at its end (the stream's acknowledgements do).
  it('seed 6 (mixed): a write the anti-entropy run left to the stream is not counted synced at the run\'s end', async () => {
    const s = makeSchedule(6, { family: 'mixed', disabled: pendingFeatures() });
    expect((await runSchedule(s, { syncedDurable: true })).problems).toEqual([]);
  });

  // The synced-durable check on restores (on for these seeds; each was a false alarm of the check before the commit
  // that lists it, and passes the check now): w.synced of a write a re-identification re-issued follows the re-issue
  // (mixed 38); a write superseded by a later local write that was re-issued lives on in that re-issue (mixed 327); a
  // collected delete whose counter a re-identification lowered out of its key's context lives on in that context
  // (restore-once 100); an acknowledgement is judged by the disk its sender had when it sent it, a relay restored
  // (mixed 317, crash 81) or a peer's disk lost (crash 85) while it travelled or while the writer stored what came
  // with it; a hello's cursors acknowledge too, judged likewise (mixed 6771: b's hello, sent while its disk held c's
  // write, reached c after that disk was lost).
  it.each([
    [38, 'mixed'],
    [327, 'mixed'],
    [100, 'restore-once'],
    [317, 'mixed'],
    [81, 'crash'],
    [85, 'crash'],
    [6771, 'mixed'],
  ] as const)('seed %i (%s) passes the synced-durable check', async (seed, family) => {
    const s = makeSchedule(seed, { family, disabled: pendingFeatures() });
    expect(s.faults.some((f) => f.what.kind === 'restore' || f.what.kind === 'wipe'), `seed ${seed}`).toBe(true);
    expect((await runSchedule(s, { syncedDurable: true })).problems, `seed ${seed} (${family})`).toEqual([]);
  });

  // Engine causes the synced-durable check found (each seed fails the check on the commit before its fix): a key written
  // again before the peer acknowledged the first write (mixed 236, 2dd2ae9); a key moved to a record not durable yet,
  // which the catch-up's log read skips (crash 93, 675a46a; and c1664b5: an ACK a crashed replica's session drained
  // after the close); a sketched run's claims leaving out a key not durable at the decoder (tabs 24, a6208fe); mixed 97
  // (crashes and tabs: fails with the merged checker until c1664b5); a relay that writes collected its own delete before
  // any peer held it, so the key's record named no version of ours and a peer's acknowledgement of a log that never
  // carried the key resolved w.synced (gc-relay 46; test/sync/collect-pending-tombstone.test.ts).
  it.each([
    [236, 'mixed'],
    [93, 'crash'],
    [24, 'tabs'],
    [97, 'mixed'],
    [46, 'gc-relay'],
  ] as const)('seed %i (%s): w.synced only once another node holds the write durably', async (seed, family) => {
    const s = makeSchedule(seed, { family, disabled: pendingFeatures() });
    expect((await runSchedule(s, { syncedDurable: true })).problems, `seed ${seed} (${family})`).toEqual([]);
  });

  // Engine causes the held-claims checks found (claims-check.ts; on for these seeds, which CI leaves out as they lose
  // power): a key's newer record applied before the key was counted (tabs 83) and a floor passing a kept key's own
  // versions (mixed 192) — both fail on the commit before their fix (test/sync/pending-applied.test.ts); crash 14 fails
  // with 14b96e3's library part reverted (a key written again, not yet fsynced, counted acknowledged).
  it.each([
    [83, 'tabs'],
    [192, 'mixed'],
    [14, 'crash'],
  ] as const)('seed %i (%s): replica.pending, the status and w.durability claim only writes another node holds', async (seed, family) => {
    const s = makeSchedule(seed, { family, disabled: pendingFeatures() });
    expect((await runSchedule(s, { claims: true })).problems, `seed ${seed} (${family})`).toEqual([]);
  });

  // restore-replica seed 1128: a node restored twice while cut off. A document edit made between the restores took
  // a dot the first restore's lost writes had used (held elsewhere for another edit), and the second restore lost
  // it with its only copy. The checker forgave lost writes and the writes they superseded by dot alone, so the held
  // dot of the other edit hid the loss of this one and it was reported as lost. Forgiven by dot and value now.
  it('a write lost with its only copy is forgiven though another value under its dot survives elsewhere', async () => {
    const s = makeSchedule(1128, { family: 'restore-replica', disabled: new Set() });
    expect(s.faults.filter((f) => f.what.kind === 'restore').length).toBe(2);
    expect((await runSchedule(s, RECORDED)).problems).toEqual([]);
  });

  // Soak seeds of the residual restore class that data claims closed (issue 10). restore-once 777295 (now an
  // expected failure, below): f is
  // restored from a copy, opened twice before it meets anyone, and writes k0 with counter 2 in between; its relay
  // then loses its disk. The relay's new copy of the lost history names f's counter 2 in doc0's context (f never
  // wrote doc0 in its restored history) and 7 in k0's: the claim's restore point was the latest open (2), so f's
  // write at 2 was neither minted again nor re-issued, and was dropped everywhere. The point is now the open
  // before the counter where the histories show they parted (restore-claims.ts forkBefore). tiny-frames 777329 and
  // mixed 778968 (both with restores) also fail on the code before it and pass with it.
  // Soak seeds of a restored receiver (issue 10): c's state of a set came from a, in a log frame held back for a
  // missing delta base (entries stored, cursor not); then a was restored from a copy older than that frame. c's
  // cursor into a's log was still valid, so c took the record for one a holds and never streamed it back: a and b
  // lacked c's write for good. The reach (handshake.ts) now says how far into a's log what c took may come from, and
  // a log that no longer reaches it gets back what it once sent. crash 2026120512 (with a restore) likewise (it no
  // longer fails without the reach since periodic rounds stopped waiting for every ACK; 2026120994 still does).
  it.each([
    [2026120994, 'mixed'],
    [2026120512, 'crash'],
  ] as const)('seed %i (%s): a peer restored below what we took from it gets it back', async (seed, family) => {
    expect((await runSchedule(makeSchedule(seed, { family, disabled: new Set() }), RECORDED)).problems).toEqual([]);
  });

  // restore-replica 1335985441 was listed above (an add-wins removal): since periodic rounds stopped waiting for every
  // ACK (space-sync.ts settled) its timing moved and it fails with issue 10's residual instead — f, restored from its
  // copy, removes from set0 under counter 8 before it learns of the restore, and a join drops that write, which no
  // write superseded. Kept as an expected failure, like 777295 below, so that the day dots name their epoch it flips.
  it('seed 1335985441 (restore-replica): a restored writer\'s re-minted write dropped by a join (issue 10\'s residual): passes with protocol 11 announced', async () => {
    expect((await runSchedule(makeSchedule(1335985441, { family: 'restore-replica', disabled: new Set() }), RECORDED)).problems).toEqual([]);
  });
  it.fails('seed 1335985441 (restore-replica): a restored writer\'s re-minted write dropped by a join (issue 10\'s residual), every node speaking 10 (the release before 11)', async () => {
    expect((await runSchedule(makeSchedule(1335985441, { family: 'restore-replica', disabled: new Set() }), { ...RECORDED, speaks11: 'at-10' })).problems).toEqual([]);
  });

  it.each([
    [777329, 'tiny-frames'],
    [778968, 'mixed'],
  ] as const)('seed %i (%s): a data claim\'s restore point reaches back to where the histories parted', async (seed, family) => {
    expect((await runSchedule(makeSchedule(seed, { family, disabled: new Set() }), RECORDED)).problems).toEqual([]);
  });

  // A fresh soak base (2026128000): the relay, whose smaller id makes it start the periodic rounds on its link with a
  // restored client, found a frame unacknowledged at every tick while it kept forwarding writes (the client defers
  // ACKs, protocol 6), so no periodic round ran on that link; a round now waits for the space to be settled, not for
  // every ACK (space-sync.ts). Fails on the code before.
  it('seed 2026128169 (relay-hub): a link whose frames are always partly unacknowledged still gets periodic rounds', async () => {
    expect((await runSchedule(makeSchedule(2026128169, { family: 'relay-hub', disabled: new Set() }), RECORDED)).problems).toEqual([]);
  });

  // restore-once 777295 passed with the fix above only while the live stream was off for spaces empty at the hello
  // (a defect: every change then went through a log read; hub.ts). With changes streamed from their events again,
  // the run's timing differs and a join drops f's write of k0 under counter 3, which no write superseded (the
  // residual of issue 10: a restored writer's re-minted dot that a context covers, before f learns of the restore;
  // the checker reports it on every replica). It fails with
  // and without forkBefore now, so it no longer tests that; 778968 does (it fails without it). Kept as an expected
  // failure so that the day dots name their epoch it flips. The soak base 2026120400 fails no more schedules with the
  // live stream on (5 and 6 of 6 800 in two runs) than off (7), all of them restored writers.
  // 777295 passes since a tick's live frame carries each key once (outgoing.ts, afa400e): the timing moved again, the
  // residual did not go. withheld 1282 shows it now: e, restored from a copy taken at 126 and cut off, adds fig to set0
  // under its counter 5 before it learns of the restore; a's context of set0 covers e's lost counter 7, and the join
  // drops e's add everywhere (it fails the same with and without every fix of branch sim-withheld to the library).
  it('seed 1282 (withheld): a restored writer\'s write that leaves before it learns of the restore (issue 10\'s residual): passes with protocol 11 announced', async () => {
    expect((await runSchedule(makeSchedule(1282, { family: 'withheld', disabled: new Set() }))).problems).toEqual([]);
  });
  it.fails('seed 1282 (withheld): a restored writer\'s write that leaves before it learns of the restore (issue 10\'s residual), every node speaking 10 (the release before 11)', async () => {
    expect((await runSchedule(makeSchedule(1282, { family: 'withheld', disabled: new Set() }), { speaks11: 'at-10' })).problems).toEqual([]);
  });

  // gc-relay 5097 (past CI's seeds; fails plain and jittered alike): c, restored to its copy @1292 while cut off (its disk
  // tells no copy), writes k2 under its counter 8 before any peer tells it of the restore; its lost history had put k2
  // under counter 9, which every other node holds in k2's context, and the join after heal drops the write everywhere.
  // The same residual; kept so that it flips with the others.
  it('seed 5097 (gc-relay): a restored writer\'s re-minted write dropped by a join (issue 10\'s residual): passes with protocol 11 announced', async () => {
    expect((await runSchedule(makeSchedule(5097, { family: 'gc-relay', disabled: pendingFeatures() }))).problems).toEqual([]);
  });
  it.fails('seed 5097 (gc-relay): a restored writer\'s re-minted write dropped by a join (issue 10\'s residual), every node speaking 10 (the release before 11)', async () => {
    expect((await runSchedule(makeSchedule(5097, { family: 'gc-relay', disabled: pendingFeatures() }), { speaks11: 'at-10' })).problems).toEqual([]);
  });

  // The same residual, past CI's seeds (plain runs, base 3000, 200 per family), failing alike on the library before this
  // stop's commits: restore-relay 3052 — c, restored from its copy of 622 and never re-identified, re-mints eXck…:9 for a
  // put of k1; its lost history had reached :11 (a delete of k1 among it), and a join drops the put (the covering
  // context was not traced further).
  // restore-replica 3134 — b, restored twice under one id, re-mints :20–:27 (the ledger shows each used twice, e.g. :22
  // for the doc0 edit 专 and later a delete of k0), and joins drop k2@:25 and doc0@:22. Expected failures, to flip when
  // dots name their epoch.
  it.each([
    [3052, 'restore-relay'],
    [3134, 'restore-replica'],
  ] as const)('seed %i (%s): a restored writer\'s re-minted dot dropped by a join (issue 10\'s residual): passes with protocol 11 announced', async (seed, family) => {
    expect((await runSchedule(makeSchedule(seed, { family, disabled: new Set() }))).problems).toEqual([]);
  });
  it.fails.each([
    [3052, 'restore-relay'],
    [3134, 'restore-replica'],
  ] as const)('seed %i (%s): a restored writer\'s re-minted dot dropped by a join (issue 10\'s residual), every node speaking 10 (the release before 11)', async (seed, family) => {
    expect((await runSchedule(makeSchedule(seed, { family, disabled: new Set() }), { speaks11: 'at-10' })).problems).toEqual([]);
  });

  // Issue 10's withheld seeds of this stop (each fails on the commit before its fix). withheld 20031: a crash took the
  // store of a withhold after the peer stored a cursor past the key, so the next session's resumed cursor cleared a key
  // nobody held (h said pending 1 with 2 keys unheld; test/review/withheld-crash.test.ts). withheld 20026: anti-entropy
  // over four narrow links sent the same states the links could not carry at every run, for ever, and the network
  // never fell quiet after heal (test/review/withheld-repair-again.test.ts). withheld 21676 and 21281 failed on an
  // intermediate form of the first fix, which noted a repair frame waiting for the withhold store as sent only once it
  // left: an establishing run ending meanwhile found every repair frame acknowledged and counted b's log held (k3, c0
  // reported synced while a held neither). withheld 21249 and 21727: a relay opening under a fresh id re-issued its
  // big writes in one commit and its 'pending' event, told after the first change, said fewer keys than were
  // pending (test/sync/pending-batch.test.ts).
  // withheld 22332, 21015 and 21333 ("a collected delete came back"): a key whose state held a big sibling beside a
  // delete was left out of every frame to a node that cannot take the big one (an earlier release behind a narrow link,
  // or tiny frames everywhere), its context with it: the node kept the write the delete superseded after the delete
  // was collected. The restores of 21015 and 21333 play no part (a's big sibling in 21015 is a write under its id after
  // the restore; c, restored in 21333, holds its own write under one value). A state left out now goes as its context
  // alone (lib/sync/fit-state.ts; test/review/withheld-collected-context.test.ts). withheld 23227 (jittered) failed
  // with the first form of it, whose context was lowered below the state's versions: c took a counter of its own it
  // never minted for a lost history and re-identified (restore-claims.ts), and its big write under the old id stayed
  // pending, which the check did not expect (it counts writes under the current id); the context leaves those out now.
  // Lacks (lib/sync/lacks.ts, stop 47) that outlived what they named: 36, 155 and 199 (plain) — a relay restored opened
  // under a new id, and the version told was lost with its copy: its clients kept lacking it from the old id for good,
  // though every big key was written small (a lack now moves to the peer's new id on that link, and the peer's answer
  // to the link's NEED ends it: all it holds of the key); 247 — a LEFT told of a version the reader held already (by
  // another link): checked against the stored state now; 266, 276, 297 (jittered) alike.
  it.each([[36, false], [155, false], [199, false], [247, false], [266, true], [276, true], [297, true]] as const)('seed %i (withheld, jittered: %s): no lack outlives what it named', async (seed, jitter) => {
    expect((await runSchedule(makeSchedule(seed, { family: 'withheld', disabled: pendingFeatures() }), { jitter })).problems).toEqual([]);
  });

  it.each([20031, 20026, 21676, 21281, 21249, 21727, 22332, 21015, 21333])('seed %i (withheld): its problem is gone', async (seed) => {
    expect((await runSchedule(makeSchedule(seed, { family: 'withheld', disabled: new Set() }))).problems).toEqual([]);
  });

  // Found by this stop's soak (plain schedules, no jitter): a restored, re-identified relay a (2122913640) and a client c
  // (2122916997) read a storage hint while a write of their own waited for its fsync, took the log's committed top for
  // durable (lib/external.ts, the defect crash 3149 showed under jitter), and a sketch answer or log frame carried that
  // write before it was durable. Both fail on the commit before that fix.
  it.each([2122913640, 2122916997])('seed %i (mixed): only durable state leaves a replica', async (seed) => {
    expect((await runSchedule(makeSchedule(seed, { family: 'mixed', disabled: pendingFeatures() }))).problems).toEqual([]);
  });

  // Issue 10's withheld seeds past CI's (21814, 22728): a checker error, not the library's. c, restored from its copy and
  // re-identified (a peer held dots of its lost history), still held a big write of its own made under its old id before
  // the restore point (21814: k32 at DNxPuj…:4; 22728: k14 at tQePn1…:13), which no link could carry to any other node.
  // c kept counting that key pending, truthfully; the check counted only versions under c's current id, so it judged
  // 0 keys unheld and c's count of 1 a key held elsewhere. It now counts a node's writes under every id it had.
  it.each([21814, 22728])('seed %i (withheld): a write under an id the node had before re-identifying, held nowhere else, may stay pending', async (seed) => {
    expect((await runSchedule(makeSchedule(seed, { family: 'withheld', disabled: new Set() }))).problems).toEqual([]);
  });

  // withheld 21841 (past CI's seeds, found once the former ids counted): relay a, under a fresh id since its restore,
  // streamed k1 (holding its big write under its id before) to b in a frame b acknowledges up to ACK_DELAY later (the
  // frame holds no write of a's current id: ack-policy.ts). The network was quiet and the liveness check ran before
  // that ACK was due: a counted k1, which b held. The check now runs once deferred ACKs are due (a checker error).
  it('seed 21841 (withheld): the liveness check waits for the acknowledgements a peer deferred', async () => {
    expect((await runSchedule(makeSchedule(21841, { family: 'withheld', disabled: new Set() }))).problems).toEqual([]);
  });

  // withheld 22078 (past CI's seeds): the restored writer of issue 10's residual, which the epoch effort retires. d is
  // restored to its copy taken at 839 (log top 8) and no peer tells it (its relay a was restored too, b never links to
  // it), so it keeps its id. Its lost history had minted idrA…:10–12 (the doc0 edits at 1062 and 1174 were 11 and 12)
  // and b holds doc0 with idrA…:12 in its context (a->b at 1291). Restored, d edits doc0 again at 1774 under idrA…:9
  // (上) and 10 (不); a's answer to d's anti-entropy at 3074 carries b's doc0, whose context idrA…:12 covers both, and
  // d's join drops them (不's dot is also the lost delete of k0's, so the checker forgives it). Kept as an expected failure, like 1282 above, so that the day dots name their epoch it flips.
  it('seed 22078 (withheld): a restored writer\'s document edit under a counter its lost history used (issue 10\'s residual): passes with protocol 11 announced', async () => {
    expect((await runSchedule(makeSchedule(22078, { family: 'withheld', disabled: new Set() }))).problems).toEqual([]);
  });
  it.fails('seed 22078 (withheld): a restored writer\'s document edit under a counter its lost history used (issue 10\'s residual), every node speaking 10 (the release before 11)', async () => {
    expect((await runSchedule(makeSchedule(22078, { family: 'withheld', disabled: new Set() }), { speaks11: 'at-10' })).problems).toEqual([]);
  });

  // withheld 23178 (jittered; found in the run of 300 from base 23000, the only failure there): h, restored to its copy
  // from 28 ms, writes under its old id before it learns of the restore (its counter 2 names a tombstone of k4 on e and
  // an add to set0 on h), and a join drops its increment c1@h:1 everywhere: the restored-writer class of 1282, which
  // the epoch effort retires. It fails the same on main.
  it('seed 23178 (withheld, jittered): a restored writer\'s writes under its old id before it learns of the restore: passes with protocol 11 announced', async () => {
    expect((await runSchedule(makeSchedule(23178, { family: 'withheld', disabled: new Set() }), { jitter: true })).problems).toEqual([]);
  });
  it.fails('seed 23178 (withheld, jittered): a restored writer\'s writes under its old id before it learns of the restore, every node speaking 10 (the release before 11)', async () => {
    expect((await runSchedule(makeSchedule(23178, { family: 'withheld', disabled: new Set() }), { ...{ jitter: true }, speaks11: 'at-10' })).problems).toEqual([]);
  });

  // withheld 1733502631 (jittered; stop 37's soak; the same at SIM_SPEAKS=11): no restore. d, behind a narrow link,
  // holds a's k0 at a:3; c deletes it (context covering a:3) and collects the tombstone; a writes k0 again at a:7, a
  // value too big for d's link, so a sends d k0's context alone (fit-state.ts), which left out every replica with a
  // version in the state — a's entry too, the one that tells d that a:3 is superseded. d kept a:3 for good. Now an
  // entry of such a replica goes lowered to the highest of the peer's versions of it that the state superseded
  // (the link's model of the peer knows d holds a:3). At 11 (SIM_SPEAKS=11, both trials of announcing 11) a's entry is a
  // point naming its epoch, which was still left out: d kept k0 at (a, e, 4) under c's collected delete. It goes
  // lowered to the point of d's version now (fit-state.ts supersededPoints). It failed beside earlier peers too
  // (SIM_SPEAKS=mixed: a, d at 11).
  it.each([false, 'beside-earlier', true] as const)('seed 1733502631 (withheld, jittered, at 11: %s): a node behind a narrow link drops a version whose writer also wrote the big sibling that superseded it', async (speaks11) => {
    expect((await runSchedule(makeSchedule(1733502631, { family: 'withheld', disabled: new Set() }), { jitter: true, speaks11 })).problems).toEqual([]);
  });

  // withheld 42012 (jittered; failed on mains before this fix; passed at SIM_SPEAKS=11 before it): a's big k0
  // went in PARTs to d and was left out of a frame to b (speaks 5) — both withholds made before a heard k0's change (the
  // frame read the durable record first), so pending.ts found k0 not counted and stored no withhold: the links held no
  // frame back, and after a's restart b's resumed cursor past k0 cleared it (pending 0; d's disk was lost meanwhile).
  // A withhold now counts the newest record applied, heard or not (test/review/withheld-unheard.test.ts).
  it('seed 42012 (withheld, jittered): a withhold made before its key\'s change is heard is stored', async () => {
    expect((await runSchedule(makeSchedule(42012, { family: 'withheld', disabled: new Set() }), { jitter: true })).problems).toEqual([]);
  });

  // tabs 1733600021 (the same at SIM_SPEAKS=11): b deleted k1 at b:6 with a context covering what it dropped; restored to
  // an older copy, b minted b:6 again (untagged) for a delete of k2 that dropped b:1. The checker keyed what a write
  // superseded by dot and body, and took the second delete's b:1 for the first's ("superseded b:1, outside its
  // context"); test/sim/checks.test.ts has the case.
  it.each([false, true])('seed 1733600021 (tabs, at 11: %s): a delete with a context is judged by what it dropped, not by a later write under its dot', async (speaks11) => {
    const s = makeSchedule(1733600021, { family: 'tabs', disabled: pendingFeatures() });
    expect((await runSchedule(s, speaks11 ? { speaks11: true } : {})).problems).toEqual([]);
  });

  // Issue 10's residual with every node speaking protocol 11 (SIM_SPEAKS=11: each open tags its dots with its epoch,
  // docs/design/epochs-build.md item 1). The restored writers' probes above pass there, and so do these soak seeds of
  // the same class (each fails at default, the write dropped by a join). The last three are the add-wins tag's: a
  // restored writer re-minted a per-set tag its lost branch used, which a set context that saw the lost one covered
  // (withheld 1282: e's fig; gc-peer 2122911595 and restore-replica 11079: apple); they pass since `add` names the
  // write's epoch (add-wins.ts, minting.ts). relay-hub 1733502378 (c's remove of pear lost, and lime) fails so at
  // default only: at 11 it passes jittered before and after, and fails plain before and after on k0's versions
  // diverging (relay a speaks [5, 6]; no set in it), so it is not here.
  it.each([
    [1335985441, 'restore-replica', false, true, false],
    [5097, 'gc-relay', false, false, true],
    [22078, 'withheld', false, false, false],
    [3052, 'restore-relay', false, false, false],
    [3134, 'restore-replica', false, false, false],
    [23178, 'withheld', true, false, false],
    [1733401458, 'restore-replica', false, false, true],
    [1733402103, 'restore-once', false, false, true],
    [1733402701, 'withheld', true, false, true],
    [1733406810, 'mixed', false, false, true],
    [1733401214, 'far-future', false, false, true],
    [2122913008, 'crash', false, false, true],
    [2122912093, 'relay-hub', false, false, true],
    [2122912515, 'restore-relay', false, false, true],
    [1282, 'withheld', false, false, true],
    [2122911595, 'gc-peer', false, false, true],
    [11079, 'restore-replica', false, false, true],
    // At 11 only (base 7000): the ledger keyed dots as r:n and took a restored branch's dot for the lost one's ("dot …
    // names two values", 7093); a key's context alone left a tagged point out (fit-state.ts), so f kept g's k4 after g's
    // collected delete (7074).
    [7093, 'withheld', false, false, true],
    [7074, 'withheld', false, false, true],
    // At 11 (base 7000): two relays, where a relay learned the records of the other relay's clients from no one (the
    // simulator's server relay did not trust its dialing peer, which a real cluster's does both ways).
    [7078, 'crash', false, false, true],
    [7089, 'restore-replica', false, false, true],
    // At 11: a restored writer whose loss a mesh peer's hello showed told that peer alone its chain, then re-identified;
    // its former id never spoke to the relay again, which took the chain from no client and so kept what the peer and
    // the writer drop through the restored epoch's ancestry (tabs 1733600006: set0's untagged point c:8 beside
    // (c, 0AOvfwxx, 14); restore-relay 7090: k4's version e:2 beside e's delete under its restored epoch). A client's
    // chain of a third replica is now taken where its token could say hello as that replica (epoch-vouch.ts).
    [1733600006, 'tabs', false, false, true],
    [1733600006, 'tabs', true, false, true],
    [7090, 'restore-relay', false, false, true],
    [7090, 'restore-relay', true, false, true],
  ] as const)('seed %i (%s, jittered: %s) at protocol 11: a restored writer\'s write survives', async (seed, family, jitter, recorded, pending) => {
    // As each was found: the soak's seeds (and 5097) with the pending features left out, the probes above without.
    const s = makeSchedule(seed, { family, disabled: pending ? pendingFeatures() : new Set() });
    expect((await runSchedule(s, { ...(recorded ? RECORDED : {}), jitter, speaks11: true })).problems, `seed ${seed} (${family})`).toEqual([]);
  });

  // Peers of earlier releases (the schedule's `speaks`) beside nodes at 11 (SIM_SPEAKS=mixed, docs/design/epochs-build.md
  // item 6): a key naming an epoch never reaches such a peer (withheld and reported, PROTOCOL), so the checker judges it
  // per group of nodes that links at 11 join, as a big key per wide group. Judged as one group, both seeds fail
  // ("diverged versions"). The run must hold tagged keys on nodes at 11 and none on the earlier peers.
  it.each([7007, 7017])('seed %i (mixed) with peers of earlier releases beside nodes at 11', async (seed) => {
    const s = makeSchedule(seed, { family: 'mixed', disabled: pendingFeatures() });
    const seen: Record<string, number> = {};
    const { problems } = await runSchedule(s, {
      speaks11: 'beside-earlier',
      inspect: (c) => {
        for (const n of c.names) seen[`${n}${s.speaks[n] ? ' (earlier)' : ''}`] = c.node(n).disk.records('s').filter(([, rec]) => namesEpochs(rec)).length;
      },
    });
    expect(problems, `seed ${seed}`).toEqual([]);
    expect(Object.entries(seen).filter(([n, k]) => n.endsWith('(earlier)') && k > 0)).toEqual([]);
    expect(Object.entries(seen).some(([n, k]) => !n.endsWith('(earlier)') && k > 0)).toBe(true);
  });

  // Typed values beside peers of earlier releases (SIM_SPEAKS=mixed; each failed there, and passes at 11): a relay told
  // an earlier peer the context alone of a tagged state superseding its versions, so it dropped them and built its next
  // increment or add-wins add on nothing — its counter entry back at 1, absorbed by the withheld state's ("counter c1 =
  // 5, but 6 increments resolved"), or a re-minted tag the withheld set's context covers ("add-wins set0 lost pear").
  // A state holding a live typed value now tells an earlier peer no context (fit-state.ts); a plain value's and a delete's
  // still go: without them restore-relay 40 and 84 (jittered; it passes on main) brought a superseded version back.
  // Telling every entry but the peer's own lost restore-once 80's lime (two earlier peers linked to each other).
  it.each([
    [37, 'relay-hub', false],
    [180, 'mixed', false],
    [394, 'mixed', false],
    [53, 'mixed', false],
    [40, 'restore-relay', false],
    [89, 'gc-peer', true],
    [1, 'restore-once', false],
    [198, 'mixed', false],
    [9, 'mixed', false],
    [80, 'restore-once', true],
    [67, 'restore-relay', false],
    [84, 'restore-relay', true],
  ] as const)('seed %i (%s, jittered: %s) beside peers of earlier releases and at 11: counters and add-wins sets keep every write', (seed, family, jitter) =>
    passesAtEach(seed, family, jitter, ['beside-earlier', true]),
  );

  // Announcing 11 (the lead's trial): CI's schedules failing with SIM_SPEAKS=mixed, each passing at 11 and at default.
  // gc-peer 35: b's tagged write of k2 went to relay a (protocol 6) as an anti-entropy claim of nothing, and the run's
  // end reported it synced (the claim now withholds the key from a, wire.ts / old-peers.ts). tabs 62, restore-relay 17:
  // the relay at 11 peeled its old client's sketch and sent its tagged state of the key whole, which the link left out,
  // so the client, never told the relay held the key differently, ended the run with its own write reported synced
  // (the relay now claims such a key, repair.ts). restore-replica 99 (jittered): the checker's — c (below 11) kept the
  // context alone of the tagged states superseding its edit, both nodes at 11 were restored from older copies; a
  // restore no longer counts a copy another disk's context outranks as holding the write (run-schedule.ts forgiveLost).
  it.each([
    [35, 'gc-peer', false],
    [17, 'restore-relay', false],
    [62, 'tabs', false],
    [99, 'restore-replica', true],
  ] as const)('seed %i (%s, jittered: %s) beside peers of earlier releases, and at 11: no write reported synced before another node holds it, no edit lost', (seed, family, jitter) =>
    passesAtEach(seed, family, jitter, ['beside-earlier', true]),
  );

  // Issue 10 at 11 (CI's last SIM_SPEAKS=mixed failure, and withheld 1733910019 at 11): a tagged restored writer that
  // re-identifies re-issues none of its tagged writes; they stay under its former id. `w.synced` of such a write, its key's
  // record moved up the log by a join, waited for where that record is now only while it held a version under the
  // current id, so an acknowledgement past the write's own seq (restore-replica 80: earlier peer a's run end, after a's
  // state joined and released the withhold; withheld 1733910019: d's) reported it synced while no other node held it.
  // `where` now counts the former ids as `replica.pending` does (replica.ts; test/sync/former-id-synced.test.ts).
  it.each([
    [80, 'restore-replica', true],
    [1733910019, 'withheld', false],
    [1733910019, 'withheld', true],
  ] as const)('seed %i (%s, jittered: %s) beside peers of earlier releases, and at 11: a write left under a former id is not reported synced before another node holds it', passesAtEach);

  // The soak at SIM_SPEAKS=mixed (base 1734000000; each failed there only, and passes at 11 and at default). mixed
  // 1734003383: c (protocol [5, 6, 7]) could not resolve b's delta of doc0 and asked for it whole; by then b's state of
  // doc0 named an epoch, which the wire left out (a live typed value tells no context), so c held its cursor and ACKs
  // for good and the b-c link never settled ("not quiescent"); mixed 1734006361 (a-b, b at [5 … 8], crashes) and
  // 1734007182 (d-f, d at [5, 6]) the same. A NEED for such a key is now answered as nothing after the withheld state
  // (need-answers.ts; test/sync/need-old-peer.test.ts).
  it.each([
    [1734003383, 'mixed', false],
    [1734006361, 'mixed', false],
    [1734007182, 'mixed', false],
  ] as const)('seed %i (%s, jittered: %s) beside peers of earlier releases, at 11 and at 10: a NEED a peer below 11 sent is answered', passesAtEach);

  // The soak at SIM_SPEAKS=mixed (base 1734000000), mixed 1734003284: node e's tab 1 held the links and withheld k7
  // (written in tab 0 at seq 16; its state named an epoch) from d, below 11, and stored the withhold; tab 1 closed and
  // tab 0 took the links, which had read the stored withholds only at its open: d's resumed cursor of 16 counted k7
  // synced there while no other node held it. A resumed cursor now counts only after the withholds other instances
  // stored are read (acks.ts `storedWithholds`; test/review/withheld-tab-takes-links.test.ts).
  it.each([[1734003284, 'mixed', false]] as const)('seed %i (%s, jittered: %s) beside peers of earlier releases, at 11 and at 10: a tab taking the links takes the withholds another stored', passesAtEach);

  // withheld 21249 beside peers of earlier releases (plain and jittered; the lead's trial of announcing 11): relay a's big
  // k21 was left out of frames (tiny frames); a store of the withheld keys, made while a's small rewrite of k21 was
  // applied but its change not heard, stamped k21's items with that newer record's seq though no frame that left k21 out
  // had read it. Hearing the change released the withhold in memory and a peer's acknowledgement cleared k21, but the
  // stored items matched k21's entry and came back at a's next open, withheld from every peer: a counted k21 pending for
  // good while every node at 11 held it. A stored withhold now names a newer record only where a frame that left the
  // key out reached it (pending.ts `entryOf`; test/review/withheld-newer-record.test.ts).
  it.each([false, true])('seed 21249 (withheld, jittered: %s) beside peers of earlier releases, and at 11: a withhold does not outlive the record it was made for', (jitter) =>
    passesAtEach(21249, 'withheld', jitter),
  );

  // withheld 1735200251 (jittered; fails beside peers of earlier releases only): b's k1 (its state named an epoch) was left
  // out of b's frames to c (protocol [5, 6, 7]) and sent to a, which stored it; b crashed before a's ACK came. a's next
  // hello resumed b's log from its cursor, past k1, and a resumed cursor counts no withheld key held: b, writing nothing
  // more, counted k1 pending for good while a held it. A resumed stream now sends such keys again as repair states, whose
  // acknowledgement counts them held (withheld-passed.ts; test/review/withheld-resumed-holder.test.ts).
  it('seed 1735200251 (withheld, jittered) beside peers of earlier releases, at 11 and at 10: a withheld key whose ACK a crash lost drains', () =>
    passesAtEach(1735200251, 'withheld', true),
  );

  it('seed 23227 (withheld, jittered): a key\'s context alone names no counter a writer did not mint', async () => {
    expect((await runSchedule(makeSchedule(23227, { family: 'withheld', disabled: new Set() }), { jitter: true })).problems).toEqual([]);
  });

  // The relink family's first soak (relink-faults.ts; base 1750300000, 1 000 at the default and at 11): relink 1750300235
  // and 1750300413 (and 1750300371) failed 'not quiescent' in both — a second link kept to the end, peer to peer, whose
  // other end restarted after heal never linked its end again, so the first dialed for good. The simulator's own: an
  // end that restarts links a kept twin again, as the app's configuration would (Cluster keptSpares).
  it.each([1750300235, 1750300413])('seed %i (relink): a second link kept to the end is linked again by an end that restarts', async (seed) => {
    expect((await runSchedule(makeSchedule(seed, { family: 'relink', disabled: pendingFeatures() }))).problems).toEqual([]);
  });

  // The relink family's soak at the default (base 1750310000, 600 schedules, the only failure): relink 1750310339 — c, of an
  // earlier release ([5, 6]), restored to its copies @1395 and @534 (relay a restored too), loses k7 (c:2) on every node, "a
  // join dropped … which no write superseded". It fails the same with every relink fault taken out of the schedule: the
  // decided class (a writer of an earlier release cannot tell a copy: docs/deploy.md's open case), not the family's.
  // Passes at 11; fails at 10 and beside earlier releases.
  it('seed 1750310339 (relink) at 11: a restored writer that tags keeps its write', () => passesAtEach(1750310339, 'relink', false, [true]));
  it.fails('seed 1750310339 (relink) beside earlier releases: a restored writer of an earlier release', () => passesAtEach(1750310339, 'relink', false, ['beside-earlier']));

  it('different seeds give different runs', async () => {
    const a = await runSchedule(makeSchedule(5, { disabled: pendingFeatures() }), RECORDED);
    const b = await runSchedule(makeSchedule(6, { disabled: pendingFeatures() }), RECORDED);
    expect(a.digest).not.toBe(b.digest);
  });

  it('the generator covers every topology, relays among them, and a relay schedule passes', async () => {
    const schedules = Array.from({ length: 100 }, (_, i) => makeSchedule(i + 1, { disabled: pendingFeatures() }));
    expect(new Set(schedules.map((s) => s.topology))).toEqual(new Set(['star', 'chain', 'ring', 'mesh', 'hub']));
    const relayed = schedules.find((s) => s.relays.length > 0 && s.nodes.length > 2);
    expect(relayed).toBeDefined();
    const result = await runSchedule(relayed!);
    expect(result.problems).toEqual([]);
    expect(result.bytes).toBeGreaterThan(0);
  });
});

describe('document edits in the schedules', () => {
  it('half the schedules edit a document, and their runs carry deltas: LIVE frames and, under faults, NEED', async () => {
    const schedules = Array.from({ length: 40 }, (_, i) => makeSchedule(i + 1, { disabled: pendingFeatures() })).filter((s) => s.edits.length > 0);
    expect(schedules.length).toBeGreaterThan(10);
    const types: Record<number, number> = {};
    const checked = { changes: 0, live: 0, undecoded: 0 };
    for (const s of schedules) {
      const r = await runSchedule(s, RECORDED);
      expect(r.problems, `seed ${s.seed}`).toEqual([]);
      for (const [t, n] of Object.entries(r.frameTypes)) types[Number(t)] = (types[Number(t)] ?? 0) + n;
      for (const k of ['changes', 'live', 'undecoded'] as const) checked[k] += r.durabilityChecked[k];
    }
    expect(types[MsgType.Live] ?? 0).toBeGreaterThan(0);
    expect(types[MsgType.Need] ?? 0).toBeGreaterThan(0);
    // The durability check reads LIVE frames too (the fast path of deltas), every one of them.
    expect(checked.live).toBe((types[MsgType.Live] ?? 0) + (types[MsgType.LiveCleared] ?? 0));
    expect(checked.changes).toBe(types[MsgType.Changes] ?? 0);
    expect(checked.undecoded).toBe(0);
  });
});

describe('storage-timing jitter (run-schedule.ts `jitter`)', () => {
  it('a jittered seed runs the same twice, and differently from its plain run', async () => {
    const s = makeSchedule(24, { family: 'tabs', disabled: pendingFeatures() });
    const first = await runSchedule(s, { jitter: true });
    const second = await runSchedule(s, { jitter: true });
    expect(second).toEqual(first);
    expect((await runSchedule(s)).digest).not.toBe(first.digest);
  });

  // Found by the jitter on the code before its fixes (each fails the held-claims check there): tabs 24, crash 14, crash
  // 17 and mixed 65 — a key's change heard after a newer one moved it back below its entry in the pending map (pending.ts
  // `changed`; test/sync/pending-applied.test.ts); mixed 97 — a hello told a cursor a join of the last session's frame
  // had applied, not durable yet, because that join began while the cursor read ran (space-sync.ts `makeItem`; gc-relay
  // 46 too: a write reported synced so). restore-replica 93 was the simulator's own: the cluster looked quiet while a
  // join waited on a jitter timer, and the checks ran before it stored (Cluster.quiescent now waits for `waits`).
  // crash 125 (past CI's seeds): d's increment of c0 reported synced while no other node held it durably — a change
  // heard after a newer record of its key had reset the key's Merkle leaf, so anti-entropy saw no difference (core.ts,
  // change-order.ts; it fails on the commit before that fix). crash 116 (past CI's seeds) was the checker's own: relay a
  // stored k0@(a's first id):1 from a peer, then c's delete that superseded it, then collected that delete; one group
  // commit made the three durable and their transact() promises settled collection first, so the ledger took the store
  // for a return after the collection (ledger.ts judges by the order transactions applied now; checks.test.ts).
  it.each([
    [24, 'tabs'],
    [14, 'crash'],
    [17, 'crash'],
    [65, 'mixed'],
    [97, 'mixed'],
    [46, 'gc-relay'],
    [93, 'restore-replica'],
    [125, 'crash'],
    // Past CI's seeds (crash 3060–3359 jittered). 3149, 3180, 3232: a replica read a storage hint of its own (its log read
    // had been held back by its rewrite of a key) while a later write of its own waited for its fsync, and took the log's
    // committed top for durable (lib/external.ts): its index and repair then sent that write before it was durable
    // (test/review/held-external-top.test.ts). 3144: relay a, under a fresh id after a crash, counted pending 3 of the 4
    // keys holding its unacknowledged writes — those under its id before the crash left the count (lib/pending.ts former
    // ids; test/review/withheld-former-id.test.ts). Each fails on the commit before its fix.
    [3144, 'crash'],
    [116, 'crash'],
    [3149, 'crash'],
    [3180, 'crash'],
    [3232, 'crash'],
  ] as const)('seed %i (%s) with storage jitter passes every check', async (seed, family) => {
    const s = makeSchedule(seed, { family, disabled: pendingFeatures() });
    expect((await runSchedule(s, { jitter: true })).problems, `seed ${seed} (${family}) jittered`).toEqual([]);
  });
  // The soak at the announced default (stop 40, base 1735000000, 3 600 family schedules): 2 failures, one class — a
  // collected delete came back where the version it superseded was written by a replica of an earlier release
  // (clock-skew 1735000128: c [5 … 8] wrote k16 at c:3, d's tagged delete superseded it, relay a collected it;
  // restore-relay 1735000021: d [5 … 8], k1 at d:8). Anti-entropy toward the earlier peer: a, peeling its sketch,
  // claimed the tagged key as nothing (old-peers.ts), the peer sent its state whole, and the peeling side answered
  // nothing (only the side that sent the sketch sends back), so c kept c:3 for good. The peeling side now sends back
  // its state where it supersedes the peer's (repair.ts answerOld; the wire tells its context alone). Both fail on the
  // commit before at default and pass with every node at 10 and at 11.
  it.each([
    [1735000128, 'clock-skew'],
    [1735000021, 'restore-relay'],
  ] as const)('seed %i (%s): a collected delete stays collected where an earlier release wrote the version it superseded (at default, at 10 and at 11)', async (seed, family) => {
    for (const speaks11 of [undefined, 'at-10', true] as const) {
      const o = speaks11 === undefined ? {} : { speaks11 };
      expect((await runSchedule(makeSchedule(seed, { family, disabled: new Set() }), o)).problems, String(speaks11 ?? 'default')).toEqual([]);
    }
  });
  // The same class by a run with no sketch (gc-peer 1735100147, base 1735100000 of that soak): d [5] lost relay b's delete
  // of k0 in a restart right after it came; b, restored from a copy (so the next session repaired by anti-entropy), held
  // k0 and k1 as tagged states superseding d's e:6 and b:11 (over deletes c later collected). d opened every run with
  // nodes, b answered with ranges claiming both as nothing (old-peers.ts), d sent them whole and b answered nothing, so d
  // kept both for good. Every run toward a peer below 11 now sends back what the peer sent whole that its tagged state
  // supersedes (repair.ts answerOld; the wire tells its context alone). Fails on the commit before at default; passed at
  // 10 and at 11 there too.
  it.each([[1735100147, 'gc-peer', false]] as const)('seed %i (%s, jittered: %s) beside peers of earlier releases, at 11 and at 10: a collected delete stays collected where a peer of an earlier release opens the runs', passesAtEach);
  // The soak at the announced default (stop 41, base 1736000000): crash 1736000017 — at default, at 10 and at 11. Relay
  // a held g's write of set0 and a state superseding it, sent that state to g (a's acknowledgement lost), then was
  // restored from a copy holding neither; g's first anti-entropy run with the restored a built g's tree while g's
  // newest record of set0 (a join) waited for its fsync, so the tree left the key out, no turn named it, and the run's
  // end counted g's log held: the write reported synced while no other node held it. A tree built with a key left out
  // now confirms nothing (hub.ts `unsettled`, repair.ts; test/sync/synced-after-repair.test.ts).
  it('seed 1736000017 (crash): a run over a tree that left a key out confirms nothing', () => passesAtEach(1736000017, 'crash', false));
  // The same soak (base 1736100000): withheld 1736100077, at default only. c's record of k1 — its own small version
  // beside b's big one — crossed neither its link to relay a (too large, no parts) nor to b (below 11; the state names an
  // epoch), so no acknowledgement counted it; restored relay a held c's version all along and sent c its state of k1 in
  // every run, yet c counted k1 pending for good. A peer's state holding every version of ours, joined unchanged, now
  // counts the key held there (core.ts join; test/review/withheld-held-by-peer.test.ts).
  it('seed 1736100077 (withheld): a key a peer holds our versions of counts held, though every link withheld it', () => passesAtEach(1736100077, 'withheld', false));
  // The same soak (base 1736200000): gc-relay 1736200133, at default only (anti-entropy off). Relay a's untagged k5 at
  // a:5, superseded by a's tagged delete, then collected; c, an earlier release, held a:5, and every context alone of
  // k5 to c left a's entry out (a tagging writer's untagged point went only lowered to the peer's versions the link
  // knew, and without anti-entropy it knew none): c kept a:5 for good. The point goes as it is where it covers none of
  // the state's versions (fit-state.ts withPlainPoint; test/sync/fit-state.property.test.ts).
  it('seed 1736200133 (gc-relay): a tagging writer\'s untagged point reaches an earlier peer its link knows nothing of', () => passesAtEach(1736200133, 'gc-relay', false));
  // The same soak (base 1736300000, on the head before gcp147's merge): restore-replica 1736300274 jittered — d and f of
  // earlier releases ([5]); d's collected delete of k13 came back. Fails on fc7f0e2, passes with repair.ts answering
  // toward a peer below 11 the whole states its tagged records supersede in every run (gcp147).
  it('seed 1736300274 (restore-replica, jittered): a collected delete stays collected beside protocol-5 peers', () => passesAtEach(1736300274, 'restore-replica', true));
  // The soak on the final head (base 1736400000): clock-skew 1736400272 jittered, a checker gap. a's document edits never
  // left a (no session carried them) and a lost its disk: lost with their only copy, yet reported lost — the chain of
  // writes the lost one superseded (forgiveLost) keyed a typed value by its body, which a delta whose base was not at
  // hand read as underivable, and links were noted only once each write's durability was seen, after the disk went.
  // (ledger.ts writeKey, the link noted as the write is applied; test/sim/checks.test.ts.)
  it('seed 1736400272 (clock-skew, jittered): document edits lost with their only copy are forgiven', () => passesAtEach(1736400272, 'clock-skew', true));
  // The residual of stop 41 (tag2): a storage restored to a copy from before it first met a peer at 11 opened untagged
  // (the copy held no note of the meeting) and its writes after the restore reused counters its lost history had used
  // untagged — restore-relay 1736200258 jittered (b restored to its copy @19, relay a to its copy @180: b's k1 at b:1
  // again, "dot reused") and gc-peer 1736200216 (b's k10 at b:1 dropped as the lost write's). A storage speaking 11 now
  // tags from its second open at 11, met anyone or not, unless it met only earlier releases (identity.ts AT11_META;
  // test/sync/second-open-tags.test.ts). Both pass at default and at 11; at 10 nothing tags, and they fail as before.
  it.each([
    [1736200258, 'restore-relay', true],
    [1736200216, 'gc-peer', false],
  ] as const)('seed %i (%s, jittered: %s): a restored copy from before its first meeting with 11 tags, at default and at 11', (seed, family, jitter) =>
    passesAtEach(seed, family, jitter, ['beside-earlier', true]),
  );
  it.fails.each([
    [1736200258, 'restore-relay', true],
    [1736200216, 'gc-peer', false],
  ] as const)('seed %i (%s, jittered: %s) at 10: nothing tags, the counters are reused', (seed, family, jitter) => passesAtEach(seed, family, jitter, ['at-10']));
  // The part left (decided: docs/design/epochs-build.md, "Stop 42"): restore-once 1735430000 — relay a of an earlier
  // release ([5, 6, 7]) in front of every client, so none ever meets 11, each notes that it met only earlier peers and
  // never tags (a tagged write could not reach a); d, restored to its copy @810 and cut off, removes fig at d:10, a
  // counter its lost branch used, and a, which lost its disk, tells it nothing: the join drops the remove. Protected by
  // the restore machinery of earlier releases only; passes at 11 (the relay speaks 11, so d tags).
  it('seed 1735430000 (restore-once) at 11: every client behind a relay at 11 tags', () => passesAtEach(1735430000, 'restore-once', false, [true]));
  it.fails('seed 1735430000 (restore-once) beside earlier releases: behind a relay of an earlier release nothing tags', () => passesAtEach(1735430000, 'restore-once', false, ['beside-earlier']));
  // The same decided part, found again by stop 44's soak at the default (base 1744100000): restore-relay 1744100313 —
  // relay a at [5] in front of b and c, so nothing tags; b restored to its copy @2474, then a to its copy @2028 (which held
  // nothing of b's later writes); a's and c's joins drop k0@19 (ThMGX…), "which no write superseded" — the restore-escaped
  // class of untagged ids (not traced further). Fails at 10 too (every node of the release before 11: the residual of issue 10's restore machinery); passes
  // at 11 (the relay speaks 11, b tags).
  it('seed 1744100313 (restore-relay) at 11: behind a relay at 11 the restored writer tags', () => passesAtEach(1744100313, 'restore-relay', false, [true]));
  it.fails('seed 1744100313 (restore-relay) beside earlier releases: behind a relay of an earlier release nothing tags', () => passesAtEach(1744100313, 'restore-relay', false, ['beside-earlier']));
  // And far-future 1744100370 (the same soak): b, of an earlier release ([5..8]) and 24 h ahead, restored to its copy @628,
  // then c restored too (chain a-b-c); b's remove of kiwi from set0 (b:6) is dropped by b's and c's joins, "which no
  // write superseded". A writer of an earlier release never tags: its restores have only the restore machinery of
  // earlier releases, whose residual this is (fails at 10 too); passes at 11. Not traced further.
  it('seed 1744100370 (far-future) at 11: a restored writer that tags keeps its remove', () => passesAtEach(1744100370, 'far-future', false, [true]));
  it.fails('seed 1744100370 (far-future) beside earlier releases: a restored writer of an earlier release', () => passesAtEach(1744100370, 'far-future', false, ['beside-earlier']));
  // Stop 45's soak at the default (base 1745100000, 10 125 schedules, the only failure): withheld 1745100047 — d, of an
  // earlier release ([5, 6]) behind relay a, restored to its copy @135 (then a and c restored too); d's own write of k1
  // (k1@rnQH…:4) is dropped by a join at d, "which no write superseded". A writer of an earlier release never tags: the
  // decided class again (docs/deploy.md, the case that stays open). Passes at 11 and at 10 (every node of one release).
  it('seed 1745100047 (withheld) at 11 and at 10: a restored writer of one release with its peers keeps its write', () => passesAtEach(1745100047, 'withheld', false, [true, 'at-10']));
  it.fails('seed 1745100047 (withheld) beside earlier releases: a restored writer of an earlier release', () => passesAtEach(1745100047, 'withheld', false, ['beside-earlier']));
  // And the merged head's soak at the default (base 1745300000, 2 700 schedules, the only failure; fails on 0011a22 too):
  // gc-relay 1745300124 — e, of an earlier release ([5, 6, 7]), restored to its copy @1161, edits doc0 again under the dot
  // its lost edit used (wVXk…:5): two values under one dot. The decided class; passes at 11 and at 10. Beside earlier
  // releases it failed until ACKs nobody waits for went by quiet periods and link phases (s7q, ack-policy.ts): the
  // frames' timing moved and the schedule no longer shows the reuse (not traced further). The class
  // stays open (withheld 1745100047 above still shows it); this schedule now passes in every mode.
  it('seed 1745300124 (gc-relay) at 11 and at 10: a restored writer of one release with its peers mints anew', () => passesAtEach(1745300124, 'gc-relay', false, [true, 'at-10']));
  it('seed 1745300124 (gc-relay) beside earlier releases: with the ACK timing of s7q the restored writer holds no lost edit', () => passesAtEach(1745300124, 'gc-relay', false, ['beside-earlier']));
  // Stop 47's soak on its final lib (base 1747500000, 2 025 schedules, the only failure; it fails the same on a8d713d, stop
  // 46's head): clock-skew 1747500032 — a, of this release, meets only peers of earlier releases (b [5, 6, 7], c [5]) in a
  // mesh, so it never tags; after its crashes and restart, b's disk loss and c's restore to its copy @1, joins drop a's own
  // writes of k0 and k1 under its id lY8Thz… ("which no write superseded"). Passes at 11; fails with a at 10 beside the
  // same peers. Not traced: by every sign the decided class (an untagged writer, the restore machinery of earlier releases).
  it('seed 1747500032 (clock-skew) at 11: a writer that tags keeps its writes', () => passesAtEach(1747500032, 'clock-skew', false, [true]));
  it.fails('seed 1747500032 (clock-skew) beside earlier releases: a writer whose only peers are of earlier releases never tags (not traced)', () => passesAtEach(1747500032, 'clock-skew', false, ['beside-earlier']));
  // Stop 48's soak at 11 on its final lib (base 1747900000, 4 050 schedules, the only failure; it fails the same on
  // 98fee83, stop 47's head): withheld 1747900067 — a and b in a star, narrow frames, six big writes, a restarted, b
  // restored to its copy @915: after heal b counted 2 keys pending where only k5 holds a write of its own no other node
  // holds. The other, k10: b's big k10@3 (its former id, withheld from a), which relay a's state superseded (b's lost
  // small k10@13 beside a's own big one); neither state crossed the link, and a's context alone lowers b's entry only to
  // versions of b's the link knows — none: b's state of k10 went only as its LEFT, which fed the lacks alone. So b kept
  // its superseded version, and counted it, for good. A LEFT now tells the link's model the versions it names
  // (peer-model.ts toldLeft): a's next context alone drops b's k10@3 (test/sync/left-told-superseded.test.ts).
  it('seed 1747900067 (withheld) at 11: a writer learns its version superseded where neither state crosses the link', () => passesAtEach(1747900067, 'withheld', false, [true]));
  // tr49's soak of the withheld family at 10 (base 1748700000, 500 schedules, the only failure; fails the same on e818727,
  // before tr49): withheld 1748700161 at 10 — relay a in front of six clients (e of an earlier release), d collecting
  // with a short grace; a restored to its copy @3444 after crashes and restarts: a's k4@BiS9…:3 ("a#12:12") came back on
  // every node though d had collected a tombstone of k4 that superseded it. Passes at 11, at the default, beside earlier
  // releases and jittered at 10. Traced (tr49b): b held a's k4@3 beside its own big k4@1, and a, restored, held its big
  // k4@17 over k4@3: neither state crossed the a-b link (narrow frames, no LEFT below 12), and a's context alone left
  // its entry of a out (its model of b, gone with the restore, knew no version of a's at b), so b kept k4@3 for good.
  // b had a's claim of k4 in every anti-entropy run: where our state of a key is left out on the link, the answering
  // side joins the claim's context alone lowered to its own versions (fit-state.ts claimedContext, space-ports.ts
  // superseded; test/sync/claim-superseded.test.ts). tr50: only there, and never over a typed version of ours beside
  // a live claimed one (tr49b joined every claim, and lost far-future 1749200046's adds: test/sync/claim-typed-kept).
  it('seed 1748700161 (withheld) at 11, at the default and beside earlier releases: a collected delete stays collected after the relay\'s restore', () => passesAtEach(1748700161, 'withheld', false, [true, false, 'beside-earlier']));
  it('seed 1748700161 (withheld) at 10: a peer\'s anti-entropy claim drops a version a collected delete superseded, where neither state crosses', () => passesAtEach(1748700161, 'withheld', false, ['at-10']));
  // Stop 49's soak at the default on d730eaf (base 1749000000, 2 025 schedules, the only failure; fails the same on
  // 98fee83): restore-relay 1749000017 — b, of an earlier release ([5, 6, 7, 8]) with two tabs, restored to its copy
  // @2190 (its storage cannot tell a copy), deletes k0 under the dot its lost write "b#20:21" used (k0@MxHu…:19): two
  // versions under one dot. The decided class (docs/deploy.md, the case that stays open); passes at 11.
  // Stop 49's last soak at the default on f08bf8c (base 1749200000): far-future 1749200046 lost two adds of an add-wins
  // set with tr49b's claim joins; it passes without them (as on e818727). Traced (tr50): relay a dropped e's set0@3 on
  // e's honest claim of set0@13, whose state (holding apple and pear too) e lost with its disk before it went; a's
  // small state crossed the link, so no claim needed joining (test/sync/claim-typed-kept.test.ts).
  it('seed 1749200046 (far-future) at the default, at 11 and at 10: no add of an add-wins set is lost', () => passesAtEach(1749200046, 'far-future', false, ['beside-earlier', true, 'at-10']));
  it('seed 1749000017 (restore-relay) at 11: a restored writer that tags mints anew', () => passesAtEach(1749000017, 'restore-relay', false, [true]));
  it.fails('seed 1749000017 (restore-relay) beside earlier releases and at 10: a restored writer of an earlier release reuses a dot (the decided class)', () => passesAtEach(1749000017, 'restore-relay', false, ['beside-earlier']));
  // Stop 49's last soak at the default on f80f77d (base 1749400000, 2 025 schedules, the only failure; fails the same on
  // e818727): tiny-frames 1749400044 — b, of an earlier release ([5, 6]), restored to its copies twice, loses k15@b:8 on
  // every node. The decided class again (a writer of an earlier release cannot tell a copy); passes at 11.
  // tr50's soak at the default on its head (base 1750200000, both parts; fails the same on main before tr50): clock-skew
  // 1750200099 — c, of this release, whose only peer is b of an earlier release ([5, 6, 7, 8]), restored to its copy
  // @1040, loses k0@c:10 and k1@c:13 to a join: over a link below 11 it cannot tag its restore, so its new writes reuse
  // counters its lost history used (the decided class, as clock-skew 1747500032 beside earlier releases); passes at 11.
  it('seed 1750200099 (clock-skew) at 11: a restored writer that tags keeps its writes', () => passesAtEach(1750200099, 'clock-skew', false, [true]));
  it.fails('seed 1750200099 (clock-skew) beside earlier releases and at 10: a restored writer that cannot tag reuses counters (the decided class)', () => passesAtEach(1750200099, 'clock-skew', false, ['beside-earlier']));
  // Stop 50's soak at 10 on aaa5fcb (base 1750600000, 2 025 schedules, the only failure; fails the same on 8fd1333, the
  // stop's start): crash 1750600129 jittered — f, restored to its copy @1961 at protocol 10, cannot tag its restore: its
  // removal of fig from set0 at f:17 reuses a counter its lost history used and a join drops it (the decided class);
  // passes at 11 and beside earlier releases.
  it('seed 1750600129 (crash, jittered) at 11 and beside earlier releases: a restored writer\'s removal kept', () => passesAtEach(1750600129, 'crash', true, [true, 'beside-earlier']));
  it.fails('seed 1750600129 (crash, jittered) at 10: a restored writer reuses a counter (the decided class)', () => passesAtEach(1750600129, 'crash', true, ['at-10']));
  // Stop 51's soak at 10 on 308320a (base 1750880000, 2 175 schedules, the only failure; fails the same on 658af3b, the
  // stop's start): mixed 1750880143 jittered — b, restored to its copy @156 at protocol 10, cannot tag its restore: its
  // document edits doc0@b:2 and doc0@b:5 reuse counters its lost history used and a join drops them (the decided class);
  // passes at 11 and at the default.
  it('seed 1750880143 (mixed, jittered) at 11 and beside earlier releases: a restored writer\'s document edits kept', () => passesAtEach(1750880143, 'mixed', true, [true, 'beside-earlier']));
  it.fails('seed 1750880143 (mixed, jittered) at 10: a restored writer reuses a counter (the decided class)', () => passesAtEach(1750880143, 'mixed', true, ['at-10']));
  // Stop 52: s7a52's soak (base 1752100000; fails the same on 95321cb, the stop's start): restore-relay 1752100038
  // jittered — c, of an earlier release ([5, 6]), restored to its copy @466, edits doc0 again under the dot its lost
  // history used (doc0@f4x2…:8), and a join drops the edit (the decided class: a writer of an earlier release cannot
  // tag its restore); passes at 11 and at 10 (every node of one release).
  it('seed 1752100038 (restore-relay, jittered) at 11 and at 10: a restored writer of one release with its peers keeps its edit', () => passesAtEach(1752100038, 'restore-relay', true, [true, 'at-10']));
  it.fails('seed 1752100038 (restore-relay, jittered) beside earlier releases: a restored writer of an earlier release reuses a dot (the decided class)', () => passesAtEach(1752100038, 'restore-relay', true, ['beside-earlier']));
  // And the stop's soak at the default on bb2ca03 (base 1752500000, the only failure; fails the same on 95321cb):
  // far-future 1752500117 — b, of an earlier release ([5, 6, 7]), restored to its copy @154, writes k26 under the dot its
  // lost write used (k26@sLxs…:1), and joins drop it (the decided class: at 10 too); passes at 11.
  it('seed 1752500117 (far-future) at 11: a restored writer that tags keeps its write', () => passesAtEach(1752500117, 'far-future', false, [true]));
  it.fails('seed 1752500117 (far-future) beside earlier releases: a restored writer of an earlier release reuses a dot (the decided class)', () => passesAtEach(1752500117, 'far-future', false, ['beside-earlier']));
  it.fails('seed 1752500117 (far-future) at 10: a restored writer that cannot tag reuses a dot (the decided class)', () => passesAtEach(1752500117, 'far-future', false, ['at-10']));
  // And its soak at 10 on 3850b40 (base 1752540000, the only failure; fails the same on 95321cb): relink 1752540067
  // jittered — e, restored to its copy @165 at protocol 10, writes k5 under the dot of a write its copy lost
  // (k5@zPYR…:1) and a join at a drops it (the decided class).
  it('seed 1752540067 (relink, jittered) at 11 and beside earlier releases: a restored writer keeps its write', () => passesAtEach(1752540067, 'relink', true, [true, 'beside-earlier']));
  it.fails('seed 1752540067 (relink, jittered) at 10: a restored writer that cannot tag reuses a dot (the decided class)', () => passesAtEach(1752540067, 'relink', true, ['at-10']));
  // And rev52's soak at 10 (base 1752100000, the only failure; fails the same on 95321cb): restore-replica 1752100048
  // jittered — b, restored from an older copy at protocol 10, and a delete of k15 lost on every node (the decided class).
  it('seed 1752100048 (restore-replica, jittered) at 11 and beside earlier releases: a restored writer\'s delete kept', () => passesAtEach(1752100048, 'restore-replica', true, [true, 'beside-earlier']));
  it.fails('seed 1752100048 (restore-replica, jittered) at 10: a restored writer that cannot tag loses a delete (the decided class)', () => passesAtEach(1752100048, 'restore-replica', true, ['at-10']));
  // Stop 53's soak at 10 on e75d254 (base 1752640000, its two failures; each fails the same on 104d3af, the stop's start):
  // relay-hub 1752640090 — d, restored at protocol 10 to its copy @1172, writes k9 under the dot of a write its copy
  // lost (k9@…:7) and the join drops it on a, b, c; relay-hub 1752640121 — relay a and f restored at 10, an add-wins
  // set's kiwi lost (a restored writer that cannot tag its restore: the decided class).
  it('seed 1752640090 (relay-hub) at 11 and beside earlier releases: a restored writer keeps its write', () => passesAtEach(1752640090, 'relay-hub', false, [true, 'beside-earlier']));
  it.fails('seed 1752640090 (relay-hub) at 10: a restored writer that cannot tag reuses a dot (the decided class)', () => passesAtEach(1752640090, 'relay-hub', false, ['at-10']));
  it('seed 1752640121 (relay-hub) at 11 and beside earlier releases: a restored relay keeps an add', () => passesAtEach(1752640121, 'relay-hub', false, [true, 'beside-earlier']));
  it.fails('seed 1752640121 (relay-hub) at 10: a restored relay that cannot tag loses an add (the decided class)', () => passesAtEach(1752640121, 'relay-hub', false, ['at-10']));
  // s7e0's soak (withheld 1750000082, "add-wins set0 lost pear"; tr50b traced it): c, of this release, whose only peer is
  // relay a of release [5], added pear to set0 under the tag (c, 1) at c:14; restored to its copy @885 (from before
  // set0), it added lime under (c, 1) again at c:17 — over a link below 11 it cannot tag its restore. d's set0@23 held
  // pear@(c, 1); its join with c's lime@(c, 1) keeps one item per tag, and pear went everywhere. No state of set0 was
  // ever left out (its frames are 26-126 B): not the context alone of tr50's pin, but the decided class (as 1750200099
  // above); passes at 11.
  it('seed 1750000082 (withheld) at 11: a restored writer that tags mints new add-wins tags', () => passesAtEach(1750000082, 'withheld', false, [true]));
  it.fails('seed 1750000082 (withheld) beside earlier releases: a restored writer that cannot tag re-mints an add-wins tag (the decided class)', () => passesAtEach(1750000082, 'withheld', false, ['beside-earlier']));
  it.fails('seed 1750000082 (withheld) at 10: a restored writer that cannot tag re-mints an add-wins tag (the decided class)', () => passesAtEach(1750000082, 'withheld', false, ['at-10']));
  // tr50b's soak at 10 on its head (lib as main's a2193d2; base 1750500000; both fail the same on 7368f28): crash
  // 1750500112 (c restored to its copy @1004, k1=c#7:8 lost) and tabs 1750500050 (e restored to its copy @1594,
  // k1=e#13:14 lost) — by every sign the decided class (a writer restored at 10 cannot tag its restore); not traced.
  it.each([[1750500112, 'crash'], [1750500050, 'tabs']] as const)('seed %i (%s) at 11 and beside earlier releases: a restored writer keeps its writes', (seed, family) => passesAtEach(seed, family, false, [true, 'beside-earlier']));
  it.fails.each([[1750500112, 'crash'], [1750500050, 'tabs']] as const)('seed %i (%s) at 10: a restored writer loses a write (the decided class, not traced)', (seed, family) => passesAtEach(seed, family, false, ['at-10']));
  it('seed 1749400044 (tiny-frames) at 11: a writer restored twice loses no write', () => passesAtEach(1749400044, 'tiny-frames', false, [true]));
  it.fails('seed 1749400044 (tiny-frames) beside earlier releases: a writer of an earlier release restored twice loses a write (the decided class)', () => passesAtEach(1749400044, 'tiny-frames', false, ['beside-earlier']));
  // Stop 44's soak at 11 (base 1744200000; failed on bc592b1 too): restore-once 1744200165 at 11 — seven nodes behind relay
  // a, g with two tabs; f, b and a restored from copies. f's epoch fDmc… opened under yH-G… at 3 (its restore), so
  // 3@yH-G… is in 4@fDmc…'s history. g/0 learned that record from a and stored it; g/1, open since the start, had only
  // what it read at its open. a, restored to a copy from before fDmc…, held k1 as {4@fDmc…, 3@yH-G…} (no record of fDmc…
  // yet: clients do not vouch for another's records to their relay) and sent it to g/1 once g/0 closed (@4645) and g/1
  // took the links: g/1's join judged fDmc… a root and stored both points; a, learning the record later, pruned its own.
  // A transaction that joins states now reads the stored records of the replicas they name with epochs it does not know
  // (epoch-store.ts learnStored; test/sync/epoch-tabs-stored-records.test.ts).
  it('seed 1744200165 (restore-once) at 11: a tab judges by the epoch records another tab of its storage stored', () => passesAtEach(1744200165, 'restore-once', false, [true]));
  // Pending over-counts the soaks found at the end of stop 41 — a count that does not drain after heal, not a loss.
  // withheld 1736400294 jittered (stop 42): a withhold entry kept one position for every peer it names, so a frame to a
  // protocol-5 peer past k14's newer record kept b (which got that record) in the entry at the record's change; entries
  // now keep each peer's position (acks.ts release; test/sync/withheld-release-per-peer.test.ts).
  it('seed 1736400294 (withheld, jittered): a withhold released per peer at a newer record (beside earlier releases, at 10, at 11)', () => passesAtEach(1736400294, 'withheld', true, ['beside-earlier', 'at-10', true]));
  // withheld 1736500024 at 11 (failing on stop 41's first head too): e's establishing run with relay a left k3 out (its
  // newest record, a join of a's state, not durable), so the run confirmed nothing, and once durable that record was an
  // echo of a's state: no frame, no acknowledgement. A key a run left out now goes on the stream when it settles, echo or
  // not (outgoing.ts `owed`; test/sync/synced-after-repair.test.ts 'a write the peer holds, left out of a run …').
  it('seed 1736500024 (withheld): e counts no key pending that another node holds', () => passesAtEach(1736500024, 'withheld', false, ['beside-earlier', 'at-10', true]));
  // withheld 1736500179 (at 10, 11 and beside earlier releases; failing on the stop's first head too): g, a protocol-5
  // writer, said pending 0 while no node held its k0 (an under-count). g answered relay h's run with k0's newest record
  // not durable yet, left k0 to the log stream, and told its top, past k0's older record; h took the top as its cursor
  // into g's log at the run's end; g crashed before the newer record was durable, came back with the older below h's
  // cursor, never sent, and h's resumed cursor counted it held. A run that left a key out now sends its next turn only
  // once the key's record is durable (lib/sync/left-out.ts; test/review/ae-left-out-crash.test.ts).
  it('seed 1736500179 (withheld): a key a run left out is not counted held by the cursor the run gave, across a crash', () => passesAtEach(1736500179, 'withheld', false));
  // The soak of stop 42 (base 1742700000, beside earlier releases): relay a's write of k8 reported synced 700 ms after d's
  // state had shown it held (acks.ts shownHeldBy) — at b's acknowledgement, b which k8 was withheld from, after d was
  // restored to a copy from before the write. A shown state now resolves the key's waiters at once
  // (test/sync/shown-held-now.test.ts). And (base 1742800000, restore-once 1742800163, which that change made fail): the
  // checker takes a state frame as it takes an ACK — judged by the disk its sender had when it sent it (synced-check.ts
  // ACKNOWLEDGING) — so a's state sent 4 ms before its restore, showing e's write held, is the restore's loss. Under that
  // rule 1742700192 passes on the code before too: the library change is one of timeliness (resolve on the evidence,
  // not on an unrelated acknowledgement later).
  it('seed 1742700192 (clock-skew): a write shown held by a peer is synced then, not at a later acknowledgement', () => passesAtEach(1742700192, 'clock-skew', false));
  it('seed 1742800163 (restore-once): a state its sender sent before a restore is judged by the disk it had', () => passesAtEach(1742800163, 'restore-once', false));
  // rev42's chunk (base 1742900000, plain, at every mode; the same class, found beside c2bb1a2): c's put of k0 reported
  // synced 5 ms after relay a's restore — a's state showing it held was in flight. Fails on 05cb5f3 with the checker before.
  it('seed 1742900004 (withheld): a state in flight across its sender\'s restore is judged by the disk it had', () => passesAtEach(1742900004, 'withheld', false));
  // The soak of stop 42's last head (base 1743000000 at the default; both failed on stop 41's head too, passed at 10 and
  // at 11): a writer of an earlier release restored from a copy, unnoticed (its relay restored too), beside a relay at 11.
  // clock-skew 1743000054 (c at [5..7]): relay a held c's lost k1@8 beside e's tagged write, a state no peer below 11
  // takes; its context alone to c lowered c's entry to c's new k1@6, which the lost history's counter covered, and c
  // dropped its own write with nothing to show its restore. The context alone going to a writer now carries its own
  // versions (fit-state.ts withOwn): c sees its lost k1@8, re-identifies and re-issues (test/sync/restore-context-alone.test.ts).
  it('seed 1743000054 (clock-skew): a restored writer below 11 sent the context alone of its lost write re-identifies (beside earlier releases, at 10, at 11)', () => passesAtEach(1743000054, 'clock-skew', false));
  // Open: restore-once 1743000188 (b at [5]). b restored to a copy from before its first write, relay a restored too (its
  // copy held nothing of b): no witness, and no state b received named a version of its own it never held, so b never
  // re-identified; its new k0@4 and k1@2 reached a. a's k0 and k1 held a's own tagged tombstones: withheld from b and d
  // (below 11), which got contexts alone. b then lost its disk (new id); c, away since before, came back with b's lost
  // k0@8 and k1's context b:10, and a's join dropped b's new writes (their counters covered by the lost history's). The
  // class of restore-escaped.test.ts's limit (two histories of one untagged id meeting at a third replica), closed only by
  // dots naming their epoch; at 10 d received b's writes and overwrote them before c came back (the same seed passes by
  // that), here d's writes of k0 and k1 were made beside them, never having seen them.
  it.fails('seed 1743000188 (restore-once) beside earlier releases: a restored writer of an earlier release keeps its new write', () => passesAtEach(1743000188, 'restore-once', false, ['beside-earlier']));
  // The short soak of stop 43 at the default (base 1743400000), restore-once 1743400010 (plain; anti-entropy off): d (at
  // [5, 6]) came back from a restart with a cursor into relay a's log; the catch-up left k15 and k4 out (c's tagged
  // collected deletes name its epoch in their contexts), and their contexts alone left out f's and b's entries (both had
  // written the keys again; the link knew nothing of d's f:19 and b:3 to lower them to), so d kept both versions for good
  // beside the collected deletes. A key left out toward a peer below 11 is now asked for at once (NEED) where the link
  // knows nothing of the peer's state, and a peer's state of a key left out tells its context alone again (need-answers.ts).
  it('seed 1743400010 (restore-once) beside earlier releases: a collected delete stays collected', () => passesAtEach(1743400010, 'restore-once', false));
  // The disk-full family (in CI since seed 23 below was fixed; its seeds here name their features whatever pending.ts says).
  // disk-full 1743300025 (plain; the disk-full family's first chunk found it): a node stops while an anti-entropy run of
  // it waits for a record the tree left out; whenDurable answers at once once the core is closed, and settle's loop
  // (repair.ts) left the key out again each round — microtasks only, for good: the run never returned (with repair.ts of
  // 55be569 this test hangs the process; test/review/left-out-settle-closed.test.ts fails there instead).
  it('seed 1743300025 (disk-full): a run waiting for a left-out record ends when its replica stops', () => passesAtEach(1743300025, 'disk-full', false, undefined, new Set()));
  // disk-full 23 (plain; CI's first chunk of the family): relay a's disk is full for 1+3+1+1 commits around 1300–1400,
  // while f's session with a had three log frames queued (cursors 11, 19, 22) and the link dropped. The join of 11 failed,
  // then 19's; Session.fail returned at once for a session closed already, so it was not marked failed and the frame
  // queued behind (22) was joined, storing a's cursor into f's log at 22. a's next hello told 22: f counted k1, k2, k16,
  // k5, k3 synced @5073 and streamed from past them. A failed session now joins nothing queued, closed or not
  // (session.ts fail; test/review/failed-join-queued.test.ts).
  it('seed 23 (disk-full): a write a relay failed to store is not reported synced', () => passesAtEach(23, 'disk-full', false, ['beside-earlier', true, 'at-10'], new Set()));
  // disk-full 1743700184 (df23's soak of the family at the default, base 1743700000, plain and jittered; failed at the
  // default and at 11, passed at 10): "the checker knows no record of epoch y4yRTDoccMEuYVsp@OUvHqWY". c, restored to an
  // old copy, re-identified (reidentify.ts reissueAll) while its disk was full for 3 commits: the first two re-issue
  // transactions failed, the third held. A local write queued behind the failing second re-issue adopted its applied,
  // not durable identity (LocalWrite.mint → withStoredIdentity), and c kept it in memory after the group failed: its next
  // writes minted under an id whose epoch record was stored nowhere. An identity read from a transaction not known durable
  // is now undone when a transaction fails, and each write reads the stored one again until it is durable (core.ts
  // `unsure`; test/review/reidentify-failed-write.test.ts). It passed on 1abbd12 without the fix, not by timing: that
  // commit reports a failure after a link dropped, and the cluster learnt epochs on every error event — the failed
  // identity's too; since d74b35b only on a re-identification's announcement, and the seed fails without the fix again.
  it('seed 1743700184 (disk-full): a re-identification whose transaction fails leaves no version under its id', () => passesAtEach(1743700184, 'disk-full', false, ['beside-earlier', true, 'at-10'], new Set()));
  // disk-full 1747000000 (a soak of the family): "the checker knows no record of epoch Kw83wQDpQ9ZetyQm@_H03lh-". b,
  // restored to its copy @171, re-identified at 11 when relay a told it of a write its storage lost; b's disk was full
  // for one commit then. The first re-issue transaction (the new id, its history naming _H03lh-) committed and was
  // durable, and b wrote on under it; a later pass (reissueDropped; at 10 the pass for other tabs) failed, so reissueAll threw before its RESTORED
  // announcement — the only event after an open the cluster learnt epochs on. The checker, not the library: every dot
  // under the new id names an epoch whose record b's disk holds (its identity's history), announced in b's hellos. The
  // ledger now learns the identity a transaction stored once that transaction is durable (ledger.ts spy).
  it('seed 1747000000 (disk-full): a re-identification stored durably is learnt though a later pass of it fails', () => passesAtEach(1747000000, 'disk-full', false, ['beside-earlier', true, 'at-10'], new Set()));
  // The typed-delete family's first soak (typed-delete-ops.ts; base 1751200000, 300 at the default and 300 at 10): the
  // counter's class of 9cce578 (add-wins tags), 75 and 79 failures on dc59e38, 1 and 0 with ty51's incarnations.
  // typed-delete 1751200011: c1 reads 8 where the history of its final state holds 11 increments — a replica's
  // increments after its delete of c1 bump the entry its deleted count had (the delete empties the key, so the entry
  // starts again from 0), and a peer's write concurrent with the delete brings the old count back: the join's
  // per-replica maximum absorbs the new ones. It passes with ty51's counter incarnations (merge 6459dac: at the
  // default, at 11 and at 10), and fails on dc59e38 before them.
  it('seed 1751200011 (typed-delete): increments after a delete of a counter count beside its old entry brought back', () => passesAtEach(1751200011, 'typed-delete', false));
  // typed-delete 1751200145 (the default; passes at 10): fails before ty51's incarnations and with them (6459dac);
  // passes since mine51b's own-delete rule (d4af59a). f counted its plain entry of c0 to 6 and deleted c0 (f:39); e's
  // copy, concurrent with that delete (e:14), held f's entry at 1. f's next increments (f:43, f:44) read e's copy
  // beside f's tombstone and bumped f's entry found there, 1 → 3, not a new incarnation (entryOf takes the highest one
  // present); f's old 6 came back with e's and c's later writes (e:31, c:28, which read f:29) and absorbed them: c0 =
  // 24, its final state's history holding 26 increments. mine51b: a counter's first write since its replica's own
  // delete starts its entry anew.
  it('seed 1751200145 (typed-delete): an increment after a delete that reads its own old entry at a lower count elsewhere', () => passesAtEach(1751200145, 'typed-delete', false));
});
