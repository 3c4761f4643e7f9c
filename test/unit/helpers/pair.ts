import type { HerdError } from '../../../src/protocol/errors.ts';
import type { Message } from '../../../src/protocol/messages.ts';
import { Session, type ChannelValue } from '../../../src/protocol/session.ts';

export interface Recorded {
  messages: Array<[number, Message]>;
  data: Array<[number, ChannelValue, Uint8Array]>;
  eofs: Array<[number, ChannelValue]>;
  order: string[];
  closed: HerdError | null | undefined;
  drains: number;
}

export function recorder(): Recorded {
  return { messages: [], data: [], eofs: [], order: [], closed: undefined, drains: 0 };
}

/** Two sessions wired to each other in memory; delivery is synchronous. */
export function pair(): { a: Session; b: Session; ra: Recorded; rb: Recorded } {
  const ra = recorder();
  const rb = recorder();
  let a!: Session;
  let b!: Session;
  const events = (rec: Recorded, peer: () => Session) => ({
    send: (bytes: Uint8Array) => peer().receive(bytes),
    message: (s: number, m: Message) => {
      rec.messages.push([s, m]);
      rec.order.push(`msg:${m.t}`);
    },
    data: (s: number, c: ChannelValue, bytes: Uint8Array) => {
      rec.data.push([s, c, bytes]);
      rec.order.push(`data:${bytes.length}`);
    },
    eof: (s: number, c: ChannelValue) => {
      rec.eofs.push([s, c]);
      rec.order.push(`eof:${c}`);
    },
    drain: () => {
      rec.drains++;
    },
    closed: (e: HerdError | null) => {
      rec.closed = e;
    },
  });
  a = new Session(events(ra, () => b));
  b = new Session(events(rb, () => a));
  return { a, b, ra, rb };
}
