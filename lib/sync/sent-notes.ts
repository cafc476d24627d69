/**
 * What the links of one replica sent of keys they knew nothing of, noted once for all of them (peer-model.ts): a relay's
 * fan-out sends each fresh write to every link, and each link's model noted the same dots (sharedDots) under the same
 * key in a map of its own — a lookup that missed and an insert per link per delivery, into a hundred tables of up to
 * MAX_KEYS keys each (memory-latency bound; their slots are what the relay's collections copy and keep).
 *
 *   note       per key and state sent (its dots: the same object for every link that sent that state), a bit per link
 *              that sent it knowing nothing of the key; a key takes up to CHAIN notes, newest first (a fan-out to links of
 *              several protocols sends some a state, others its context alone, one of each link's own: wire.ts LEFT
 *              OUT): a link sending a state of a key with CHAIN notes of others keeps its dots in its own map
 *   view       what a link knows of a key is its own entry (peer-model.ts `states`) where it has one, else the dots of the
 *              key's note with its bit, else nothing: what its own map held when every link noted the dots itself
 *   own        a link that knows anything of a key joins what it sends or learns of it into an entry of its own, as
 *              before (its view, joined: nothing it knew is lost); a note takes only what a link knowing nothing sent, so
 *              a link has its bit in at most one note of a key
 *   forgotten  the peer asked for the key whole (NEED: peer-model.ts needWhole): its link's bit is cleared, as its own
 *              entry goes
 *   bounded    at most MAX_KEYS keys a group, the least recently noted going EVICT at a time (the links with a bit there
 *              forget them, as a link's own map forgets its least recent keys); at most SLOTS links a group, each with a
 *              bit of its own for the group's life (never given to another link: a note never speaks for a link that was
 *              not sent it); a replica's later links start a group of their own
 */
import { dropOldest } from '../evict.js';
import type { KeyState } from '../dvv.js';
import type { Entry } from './messages.js';
import { spacedSid } from './model-entry.js';

/** Notes a key takes at most. */
export const CHAIN = 4;
/** Links a group takes (30 bits a word: small integers, so a note's words stay a packed array of them). */
const BITS = 30;
const WORDS = 8;
export const SLOTS = BITS * WORDS;

export class Note {
  readonly bits = [0, 0, 0, 0, 0, 0, 0, 0];
  constructor(
    readonly dots: KeyState,
    /** The key's note before this one. */
    public older: Note | undefined,
  ) {}

  has(slot: number): boolean {
    return (this.bits[(slot / BITS) | 0]! & (1 << slot % BITS)) !== 0;
  }
}

export class SentNotes {
  private readonly notes = new Map<string, Note>();
  private first: string | undefined;
  private links = 0;
  /** The entry last looked up and its note: a fan-out asks each link's forms and sent of one entry in turn. */
  private lastEntry: Entry | undefined;
  private lastSpace = '';
  private lastNote: Note | undefined;

  constructor(
    /** Keys the group notes at most, and how many go at a time past them (peer-model.ts MAX_KEYS, EVICT). */
    private readonly maxKeys: number,
    private readonly evict: number,
  ) {}

  /** A link joins: its slot, or undefined when the group took SLOTS links. */
  join(): number | undefined {
    return this.links < SLOTS ? this.links++ : undefined;
  }

  /** A key's id: of the group's first space the key itself (peer-model.ts `sid`), else spacedSid. */
  private id(space: string, key: string): string {
    this.first ??= space;
    return space === this.first && key.charCodeAt(0) !== 0 ? key : spacedSid(space, key);
  }

  /** The entry's key's newest note, if any. */
  find(space: string, entry: Entry): Note | undefined {
    if (entry === this.lastEntry && space === this.lastSpace) return this.lastNote;
    const n = this.notes.get(this.id(space, entry[0]));
    this.lastEntry = entry;
    this.lastSpace = space;
    return (this.lastNote = n);
  }

  /** The dots a link (`slot`) knowing nothing of the key was sent, if its bit is set in a note of the key. */
  seen(space: string, key: string, slot: number): KeyState | undefined {
    return dotsFor(this.notes.get(this.id(space, key)), slot);
  }

  /** `seen` of the entry's key. */
  seenOf(space: string, entry: Entry, slot: number): KeyState | undefined {
    return dotsFor(this.find(space, entry), slot);
  }

  /**
   * The link `slot`, knowing nothing of the entry's key, sent its state, whose dots are `dots` (the same object for every
   * link sending that state): its bit is set in the key's note of these dots, made where the key has none; false where
   * the key has CHAIN notes of others (the link keeps the dots itself).
   */
  sent(space: string, entry: Entry, dots: KeyState, slot: number): boolean {
    const newest = this.find(space, entry);
    let n = newest;
    let chain = 0;
    for (; n !== undefined && n.dots !== dots; n = n.older) chain++;
    if (n === undefined) {
      if (chain === CHAIN) return false;
      const id = this.id(space, entry[0]);
      if (newest !== undefined) this.notes.delete(id); // the newest note is the most recent: last in the map
      this.notes.set(id, (n = new Note(dots, newest)));
      this.lastNote = n;
      // The cache (`find`) names this key's note, the newest in the map: the oldest `evict` (fewer than `maxKeys`) go.
      if (this.notes.size > this.maxKeys) dropOldest(this.notes, this.evict);
    }
    n.bits[(slot / BITS) | 0]! |= 1 << slot % BITS;
    return true;
  }

  /** The link `slot` knows nothing of the key any more (its peer asked for it whole). */
  forget(space: string, key: string, slot: number): void {
    for (let n = this.notes.get(this.id(space, key)); n !== undefined; n = n.older) n.bits[(slot / BITS) | 0]! &= ~(1 << slot % BITS);
  }
}

function dotsFor(n: Note | undefined, slot: number): KeyState | undefined {
  for (; n !== undefined; n = n.older) if (n.has(slot)) return n.dots;
  return undefined;
}

/** Each replica's group with room for another link (keyed by what a replica's sessions share: their hub). */
const groups = new WeakMap<object, SentNotes>();

/** The group a new link of `owner`'s joins: its current one while it has room, else a new one. */
export function notesFor(owner: object, maxKeys: number, evict: number): { notes: SentNotes; slot: number } {
  let notes = groups.get(owner);
  let slot = notes?.join();
  if (notes === undefined || slot === undefined) {
    groups.set(owner, (notes = new SentNotes(maxKeys, evict)));
    slot = notes.join()!;
  }
  return { notes, slot };
}
