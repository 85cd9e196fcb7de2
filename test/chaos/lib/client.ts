import WebSocket from "ws";
import { createClient, type Client } from "graphql-ws";
import { MessageAddedDocument, SendMessageDocument } from "../../gql/graphql";
import { sourceOf } from "../../helpers/client";
import type { Rng } from "./rng";
import { sleep } from "./infra";

const MESSAGE_ADDED = sourceOf(MessageAddedDocument);

/** Sends that take longer are abandoned as hung (the service bounds its own waits far below). */
export const SEND_TIMEOUT_MS = 15_000;

const SEND_MESSAGE = sourceOf(SendMessageDocument);

interface Delivered {
  id: string;
  seq: number;
  conversationId: string;
}

/** What one client has of one conversation: message ids by seq, 1..last, as its UI would show. */
export interface View {
  readonly conversationId: string;
  last: number;
  ids: string[];
  /** Bumped whenever a subscription is replaced: callbacks of older ones are ignored. */
  generation: number;
  unsubscribe: (() => void) | null;
  retryTimer: NodeJS.Timeout | null;
}

/** One send the user made: retried with the same clientMessageId until acknowledged. */
export interface Intent {
  clientMessageId: string;
  senderId: string;
  conversationId: string;
  text: string;
  attempts: number;
  acked: { id: string; seq: number } | null;
  /** Set when it was still unacknowledged at the end of the run. */
  abandoned: boolean;
  rejected: string | null;
}

export interface Target {
  url: string;
  wsUrl: string;
}

/** What the clients share: where instances are, counters, and the violation log. */
export interface World {
  pickInstance(rng: Rng): Target | null;
  stats: Stats;
  violation(text: string): void;
  /** Something worth knowing when reading a run (not a violation). */
  note(text: string): void;
  intents: Map<string, Intent>;
}

export class Stats {
  deliveries = 0;
  connects = 0;
  resubscribes = 0;
  sendAttempts = 0;
  lostAcks = 0;
  readonly closeCodes = new Map<number, number>();
  readonly sendErrors = new Map<string, number>();
  readonly subscriptionEnds = new Map<string, number>();

  count(map: Map<string | number, number> | Map<string, number>, key: string | number) {
    const m = map as Map<string | number, number>;
    m.set(key, (m.get(key) ?? 0) + 1);
  }
}

/**
 * A graphql-ws connection as an app holds it (the graphql-ws client, retries left to the app), with
 * the underlying socket at hand so a test can drop it or stop reading from it.
 */
class Session {
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

export interface ClientOptions {
  sendIntervalMs: number;
  /** Unacknowledged sends stop retrying after this time (read after each failure). */
  deadline: () => number;
}

/**
 * A simulated user: one WebSocket connection to some instance with a messageAdded subscription
 * per conversation, resumed with afterSeq after any interruption, and a sender that retries each
 * message with its clientMessageId until the server acknowledges it.
 */
export class SimClient {
  readonly views = new Map<string, View>();
  private session: Session | null = null;
  private running = false;
  private sending = false;
  private reconnectDelay = 100;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private senderDone: Promise<void> = Promise.resolve();
  private readonly inFlight = new Set<Promise<void>>();
  private sent = 0;
  private paused = false;
  /** The next n sends lose their answer (the request is cut at a random point). */
  dropAnswers = 0;

  constructor(
    readonly id: string,
    readonly token: string,
    readonly conversations: string[],
    private readonly world: World,
    private readonly rng: Rng,
    private readonly options: ClientOptions,
  ) {
    for (const conversationId of conversations) {
      this.views.set(conversationId, {
        conversationId,
        last: 0,
        ids: [],
        generation: 0,
        unsubscribe: null,
        retryTimer: null,
      });
    }
  }

  get connected(): boolean {
    return this.session?.open ?? false;
  }

  start(): void {
    this.running = true;
    this.connect();
  }

  startSending(): void {
    this.sending = true;
    this.senderDone = this.sendLoop();
  }

  /** Stops making new sends and waits for those under way (they retry until deadline). */
  async stopSending(): Promise<void> {
    this.sending = false;
    await this.senderDone;
    await Promise.all([...this.inFlight]);
  }

  async stop(): Promise<void> {
    this.running = false;
    this.sending = false;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    for (const view of this.views.values()) if (view.retryTimer) clearTimeout(view.retryTimer);
    this.session?.dispose();
    this.session = null;
    await this.senderDone;
  }

  /** Network-like drop: the TCP connection is cut, no close frame. */
  drop(): boolean {
    const socket = this.session?.socket;
    if (!socket || !this.session?.open) return false;
    socket.terminate();
    return true;
  }

  /**
   * Stops reading from the socket (the server's frames pile up) until resume(); returns how that
   * connection ended, once it has (closeCode stays null while it is open).
   */
  pause(): { readonly ended: boolean; readonly closeCode: number | null } | null {
    const session = this.session;
    const socket = session?.socket;
    if (!session || !socket || !session.open || this.paused) return null;
    socket.pause();
    this.paused = true;
    return session;
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    this.session?.socket?.resume();
  }

  /** Sends one message of the given size now, retried like any other. */
  sendNow(conversationId: string, textSize: number): Promise<void> {
    return this.track(this.deliver(this.newIntent(conversationId, textSize)));
  }

  private connect(): void {
    if (!this.running) return;
    const target = this.world.pickInstance(this.rng);
    if (!target) return this.reconnectLater();
    this.world.stats.connects++;
    this.paused = false;
    this.session = new Session(
      target,
      this.token,
      (session) => {
        if (this.session !== session) return;
        this.reconnectDelay = 100;
        for (const view of this.views.values()) this.subscribe(session, view);
      },
      (session, code) => {
        this.world.stats.count(this.world.stats.closeCodes, code);
        if (this.session !== session) return;
        this.session = null;
        for (const view of this.views.values()) {
          view.generation++;
          view.unsubscribe = null;
        }
        this.reconnectLater();
      },
    );
  }

  private reconnectLater(): void {
    if (!this.running || this.reconnectTimer) return;
    const delay = this.rng.int(this.reconnectDelay / 2, this.reconnectDelay);
    this.reconnectDelay = Math.min(this.reconnectDelay * 2, 2_000);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      this.connect();
    }, delay);
  }

  private subscribe(session: Session, view: View): void {
    if (!this.running || session !== this.session || !session.open) return;
    const generation = ++view.generation;
    const current = () => view.generation === generation && this.session === session;
    view.unsubscribe = session.client.subscribe<{ messageAdded: Delivered }>(
      {
        query: MESSAGE_ADDED,
        variables: { conversationId: view.conversationId, afterSeq: view.last },
      },
      {
        next: (result) => {
          if (!current()) return;
          // A subscription that could not start (UNAVAILABLE…) arrives as a result with errors.
          if (result.errors?.length) {
            this.world.stats.count(this.world.stats.subscriptionEnds, errorCode(result.errors));
            return this.resubscribeLater(session, view);
          }
          const message = result.data?.messageAdded;
          if (message) this.receive(session, view, message);
        },
        error: (error) => {
          if (!current()) return;
          this.world.stats.count(this.world.stats.subscriptionEnds, errorCode(error));
          this.resubscribeLater(session, view);
        },
        complete: () => {
          if (!current()) return;
          this.world.stats.count(this.world.stats.subscriptionEnds, "complete");
          // The server ends messageAdded only for someone no longer in the conversation.
          this.world.violation(
            `client ${this.id} conversation ${view.conversationId}: subscription ended by the server at seq ${view.last}`,
          );
          this.resubscribeLater(session, view);
        },
      },
    );
  }

  private resubscribeLater(session: Session, view: View): void {
    view.generation++;
    if (view.retryTimer) return;
    view.retryTimer = setTimeout(
      () => {
        view.retryTimer = null;
        this.world.stats.resubscribes++;
        this.subscribe(session, view);
      },
      this.rng.int(100, 500),
    );
  }

  private receive(session: Session, view: View, message: Delivered): void {
    const where = `client ${this.id} conversation ${view.conversationId}`;
    if (message.conversationId !== view.conversationId) {
      this.world.violation(`${where}: received a message of ${message.conversationId}`);
      return;
    }
    if (message.seq === view.last + 1) {
      view.ids.push(message.id);
      view.last = message.seq;
      this.world.stats.deliveries++;
      return;
    }
    if (message.seq <= view.last) {
      this.world.violation(`${where}: seq ${message.seq} again (has 1..${view.last})`);
      return;
    }
    this.world.violation(`${where}: gap, seq ${message.seq} after ${view.last}`);
    // Heal as an app would (resubscribe from what it has), so the run can still be checked.
    const unsubscribe = view.unsubscribe;
    this.resubscribeLater(session, view);
    unsubscribe?.();
  }

  private async sendLoop(): Promise<void> {
    const { sendIntervalMs } = this.options;
    while (this.sending) {
      await sleep(this.rng.int(sendIntervalMs / 2, (sendIntervalMs * 3) / 2));
      if (!this.sending) break;
      const intent = this.newIntent(this.rng.pick(this.conversations), this.rng.int(10, 200));
      // One send at a time, as a chat UI sends in order; retries until acknowledged.
      await this.track(this.deliver(intent));
    }
  }

  private track(promise: Promise<void>): Promise<void> {
    this.inFlight.add(promise);
    void promise.finally(() => this.inFlight.delete(promise));
    return promise;
  }

  private newIntent(conversationId: string, size: number): Intent {
    const clientMessageId = `${this.id}.${++this.sent}`;
    const head = `${clientMessageId} `;
    const intent: Intent = {
      clientMessageId,
      senderId: this.id,
      conversationId,
      text: head + "x".repeat(Math.max(1, size - head.length)),
      attempts: 0,
      acked: null,
      abandoned: false,
      rejected: null,
    };
    this.world.intents.set(clientMessageId, intent);
    return intent;
  }

  private async deliver(intent: Intent): Promise<void> {
    let delay = 100;
    for (;;) {
      const target = this.world.pickInstance(this.rng);
      if (target) {
        const outcome = await this.attempt(target, intent);
        if (outcome !== "retry") return;
      }
      if (!this.running || Date.now() > this.options.deadline()) {
        intent.abandoned = true;
        return;
      }
      await sleep(this.rng.int(delay / 2, delay));
      delay = Math.min(delay * 2, 2_000);
    }
  }

  private async attempt(target: Target, intent: Intent): Promise<"acked" | "retry" | "rejected"> {
    const stats = this.world.stats;
    intent.attempts++;
    stats.sendAttempts++;
    const controller = new AbortController();
    // A request the server neither answers nor fails within this bound counts as a hang.
    const timeout = setTimeout(() => controller.abort("timeout"), SEND_TIMEOUT_MS);
    if (this.dropAnswers > 0) {
      // The answer is lost: the request is cut before, during or after the server handled it.
      this.dropAnswers--;
      stats.lostAcks++;
      setTimeout(() => controller.abort("cut"), this.rng.int(0, 30));
    }
    try {
      const response = await fetch(target.url, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${this.token}` },
        body: JSON.stringify({
          query: SEND_MESSAGE,
          variables: {
            input: {
              conversationId: intent.conversationId,
              text: intent.text,
              clientMessageId: intent.clientMessageId,
            },
          },
        }),
        signal: controller.signal,
      });
      const body = (await response.json()) as {
        data?: { sendMessage?: Delivered & { clientMessageId: string; text: string } } | null;
        errors?: Array<{ message: string; extensions?: { code?: string } }>;
      };
      const message = body.data?.sendMessage;
      if (message) {
        if (
          message.clientMessageId !== intent.clientMessageId ||
          message.conversationId !== intent.conversationId ||
          message.text !== intent.text
        ) {
          this.world.violation(`send ${intent.clientMessageId} acknowledged another message`);
        }
        if (intent.acked && intent.acked.id !== message.id) {
          this.world.violation(`send ${intent.clientMessageId} acknowledged twice, differently`);
        }
        intent.acked = { id: message.id, seq: message.seq };
        return "acked";
      }
      const code = body.errors?.[0]?.extensions?.code ?? `HTTP ${response.status}`;
      stats.count(stats.sendErrors, code);
      if (code === "INTERNAL_SERVER_ERROR") {
        this.world.note(`INTERNAL_SERVER_ERROR: request ${response.headers.get("x-request-id")}`);
      }
      if (code === "UNAVAILABLE" || code === "INTERNAL_SERVER_ERROR" || code === "RATE_LIMITED") {
        return "retry";
      }
      if (response.status >= 500 && !body.errors?.[0]?.extensions?.code) return "retry";
      intent.rejected = `${code}: ${body.errors?.[0]?.message}`;
      this.world.violation(`send ${intent.clientMessageId} refused: ${intent.rejected}`);
      return "rejected";
    } catch (error) {
      const reason: unknown = controller.signal.reason;
      stats.count(
        stats.sendErrors,
        controller.signal.aborted ? String(reason) : networkError(error),
      );
      return "retry";
    } finally {
      clearTimeout(timeout);
    }
  }
}

function errorCode(error: unknown): string {
  if (Array.isArray(error)) {
    const code = (error[0] as { extensions?: { code?: string } })?.extensions?.code;
    return code ?? "error";
  }
  const code = (error as { code?: number })?.code;
  return typeof code === "number" ? `close ${code}` : "error";
}

function networkError(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } })?.cause;
  return `network ${cause?.code ?? cause?.message ?? (error as Error)?.message ?? "error"}`;
}
