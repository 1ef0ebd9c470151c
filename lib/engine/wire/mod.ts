/**
 * The face of the private links for the CLI: asking a running daemon for its figures on its
 * private port (lib/cluster/daemon-figures.ts), in the project's framing with the token.
 */
export { encodeFrame, FrameReader } from "./frame.ts";
export { connectLink } from "./link.ts";
export { readFigures, type FiguresRequest, type PublicPortFigures } from "./protocol.ts";
