/** A frame that breaks the protocol: the connection closes (every read of a frame from the network may throw it). */
export class ProtocolError extends Error {
  override readonly name = 'ProtocolError';
}
