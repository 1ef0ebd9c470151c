/**
 * A daemon's own figures, as `cluster status --json` shows them: what its public port holds
 * (open connections, bytes of frames not yet whole) and what it has closed under its limits
 * (lib/engine/servers/public-port.ts). Asked on the daemon's private port, which already
 * takes the cluster token: one `figures` frame with it, one answer, and the daemon closes.
 *
 * NOTE: not on the public ports, which speak Fluvio's protocol only: a request of our own
 * there would be one no Fluvio SC or SPU serves.
 */
import { connectLink, encodeFrame, FrameReader, readFigures, type FiguresRequest, type PublicPortFigures } from "../engine/wire/mod.ts";

export type { PublicPortFigures };

/** How long a daemon gets to answer; a running daemon answers in about a millisecond. */
const FIGURES_TIMEOUT_MS = 1_000;

/** The figures of the daemon whose private port is `address`, or null when it does not answer them in time. */
export function askFigures(address: { host: string; port: number }, token: string): Promise<PublicPortFigures | null> {
  return new Promise((resolve) => {
    const link = connectLink(address);
    const reader = new FrameReader();
    let answer: PublicPortFigures | null = null;
    const timer = setTimeout(() => link.destroy(), FIGURES_TIMEOUT_MS);
    link.on("connect", () => link.write(encodeFrame<FiguresRequest>({ type: "figures", token })));
    link.on("data", (chunk) => {
      try {
        const frame = reader.push(chunk)[0];
        if (!frame) return;
        answer = readFigures(frame.header).publicPort;
      } catch {
        // A daemon of another version, or a refusal: no figures.
      }
      link.destroy();
    });
    link.on("error", () => {});
    link.on("close", () => {
      clearTimeout(timer);
      resolve(answer);
    });
  });
}
