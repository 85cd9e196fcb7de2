import WebSocket from "ws";

/**
 * Close code for a client that does not read fast enough: its unsent data reached the bound.
 * Nothing is lost: reconnect and resubscribe `messageAdded` with `afterSeq` = the last seq received.
 * graphql-ws clients treat it as retryable (4000–4999 outside graphql-ws's own codes).
 */
export const CLOSE_SLOW_CONSUMER = 4008;
export const SLOW_CONSUMER_REASON = "Too slow: reconnect and resume with afterSeq";

type SendCallback = (error?: Error) => void;

/** ws's underlying net.Socket, as far as corking it goes. */
interface Corkable {
  cork(): void;
  uncork(): void;
  writableCorked: number;
}

/** Sockets corked in this turn of the event loop, uncorked together at its end. */
const corked: Corkable[] = [];
const uncorkAll = () => {
  for (const raw of corked.splice(0)) raw.uncork();
};

/**
 * A ws WebSocket class whose outgoing buffer never holds more than maxBufferedBytes: a frame that
 * would go over is not queued, and the socket is closed with CLOSE_SLOW_CONSUMER instead of growing
 * memory for a client that stopped reading. Every writer (graphql-ws, the fan-out) goes through send.
 * Frames written to a socket in one turn of the event loop leave in one write (one system call):
 * a mutation's `next` and `complete`, a burst of events.
 */
export function boundedWebSocket(
  maxBufferedBytes: number,
  onOverflow: (bufferedAmount: number) => void,
): typeof WebSocket {
  return class BoundedWebSocket extends WebSocket {
    override send(data: unknown, options?: unknown, callback?: SendCallback): void {
      const cb = typeof options === "function" ? (options as SendCallback) : callback;
      if (this.readyState === WebSocket.OPEN) {
        const buffered = this.bufferedAmount;
        if (buffered + byteLength(data) > maxBufferedBytes) {
          onOverflow(buffered);
          this.close(CLOSE_SLOW_CONSUMER, SLOW_CONSUMER_REASON);
          // The frame is dropped; the client resumes from its last seq.
          if (cb) process.nextTick(cb);
          return;
        }
      }
      const raw = (this as unknown as { _socket?: Corkable })._socket;
      if (raw && raw.writableCorked === 0) {
        raw.cork();
        if (corked.push(raw) === 1) setImmediate(uncorkAll);
      }
      (super.send as (...args: unknown[]) => void)(data, options, callback);
    }
  };
}

function byteLength(data: unknown): number {
  if (typeof data === "string") return Buffer.byteLength(data);
  if (ArrayBuffer.isView(data) || data instanceof ArrayBuffer) return data.byteLength;
  return 0;
}
