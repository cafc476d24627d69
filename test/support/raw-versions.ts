/**
 * The protocol versions a hand-written test peer announces in its hello: the versions whose frames it writes.
 * Such peers encode CHANGES, LIVE, anti-entropy and NEED frames without an epoch context, which is protocol 10's
 * form; a replica that speaks 11 (epoch-wire.ts EPOCH_DOTS) reads those frames in 11's form wherever both hellos
 * list it. So the list is written out, not taken from PROTOCOL_VERSIONS: announcing 11 in the library must not
 * change what these peers test.
 */
export const RAW_VERSIONS: readonly number[] = [5, 6, 7, 8, 9, 10];

/**
 * What a replica of the release before protocol 11 announces: tests of 10's paths (a writer that does not tag beside
 * a peer of an earlier release) open their replicas with it, so announcing 11 does not move what they test.
 */
export const SPEAKS_10: readonly number[] = RAW_VERSIONS;
