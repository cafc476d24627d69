/**
 * A relay's side of delivery attestations (attest.ts), per session with a client: after a frame carrying the relay's
 * own dots leaves, an ATTEST of the highest of them follows (signing waits for nothing but the key's first read, so
 * it is one message per frame that raised the highest own dot, and none for frames of others' writes — a relay
 * mints its own dots rarely). A client keeps the latest one and echoes it in its hellos.
 */
import { attest, keepAttestation } from '../attest.js';
import type { ReplicaCore } from '../core.js';
import { MsgType, type AttestMsg, type Message } from './messages.js';

export class Attester {
  /** The highest own dot this session delivered, and the highest attested. */
  private delivered = 0;
  private attested = 0;
  private signing = false;

  constructor(
    private readonly core: ReplicaCore,
    private readonly send: (m: Message) => void,
    private readonly fail: (e: unknown) => void,
  ) {}

  /** A message this relay sent to a client: attest its own dots, if it raised the highest. */
  sent(m: Message): void {
    if (m.type !== MsgType.Changes) return;
    const me = this.core.replicaId;
    let top = this.delivered;
    for (const [, s] of m.entries) for (const v of s.vs) if (v.r === me && v.n > top) top = v.n;
    if (top === this.delivered) return;
    this.delivered = top;
    if (!this.signing) void this.flush();
  }

  private async flush(): Promise<void> {
    this.signing = true;
    try {
      while (this.attested < this.delivered) {
        const n = this.delivered;
        const a = await attest(this.core.storage, this.core.replicaId, this.core.epoch, n, this.core.seeded);
        this.attested = n;
        this.send({ type: MsgType.Attest, ...a });
      }
    } catch (e) {
      this.fail(e);
    } finally {
      this.signing = false;
    }
  }

  /** A client kept what its relay attested (a relay ignores attestations: it trusts none but its own). */
  static received(core: ReplicaCore, peer: string, m: AttestMsg): Promise<void> {
    return keepAttestation(core.storage, peer, m);
  }
}
