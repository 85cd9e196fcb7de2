import WebSocket from "ws";
import { createClient, type Client } from "graphql-ws";
import type { Target } from "./world";

/**
 * A graphql-ws connection as an app holds it (the graphql-ws client, retries left to the app), with
 * the underlying socket at hand so a test can drop it or stop reading from it.
 */
export class Session {
  socket: WebSocket | null = null;
  open = false;
  ended = false;
  closeCode: number | null = null;
  readonly client: Client;

  constructor(
    target: Target,
    token: string,
    onOpen: (session: Session) => void,
    private readonly onEnd: (session: Session, code: number) => void,
  ) {
    const track = (socket: WebSocket) => (this.socket = socket);
    class TrackedWebSocket extends WebSocket {
      constructor(address: string, protocols?: string | string[]) {
        super(address, protocols);
        track(this);
      }
    }
    this.client = createClient({
      url: target.wsUrl,
      webSocketImpl: TrackedWebSocket,
      lazy: false,
      retryAttempts: 0,
      connectionParams: { authorization: `Bearer ${token}` },
      on: {
        connected: () => {
          this.open = true;
          onOpen(this);
        },
        closed: (event) => this.end((event as { code?: number }).code ?? 0),
      },
      onNonLazyError: () => {},
    });
    // A connection that never opens (an instance just killed) is given up, as a client would.
    setTimeout(() => {
      if (!this.open && !this.ended) this.dispose(0);
    }, 10_000).unref();
  }

  end(code: number) {
    if (this.ended) return;
    this.ended = true;
    this.open = false;
    this.closeCode = code;
    this.onEnd(this, code);
  }

  dispose(code = 1000) {
    this.end(code);
    void this.client.dispose();
    this.socket?.terminate();
  }
}
