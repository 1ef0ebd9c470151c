/**
 * The two ways the Fluvio codec fails. A decode error means the peer sent bytes that are not a
 * valid message (the server answers it by closing that one connection); an encode error means
 * our own value cannot be put on the wire in a form a Rust Fluvio peer would read back.
 */

/** Malformed input: names what was being read and the byte offset where it went wrong. */
export class FluvioDecodeError extends Error {
  override name = "FluvioDecodeError";
  /** What was being decoded, e.g. "string length" or "record batch crc". */
  readonly what: string;
  /** Byte offset into the buffer being decoded. */
  readonly offset: number;

  constructor(what: string, offset: number, detail: string) {
    super(`cannot decode ${what} at byte ${offset}: ${detail}`);
    this.what = what;
    this.offset = offset;
  }
}

/** A value our side tried to encode that the wire format cannot carry. */
export class FluvioEncodeError extends Error {
  override name = "FluvioEncodeError";
}
