import { MessageAddedDocument } from "../../gql/graphql";
import { sourceOf } from "../../helpers/client";
import type { Rng } from "./rng";
import { sleep } from "./infra";
import { networkError, postSend, SEND_TIMEOUT_MS, type SendOutcome } from "./send";
import { Session } from "./session";
import type { Delivered, Intent, Target, View, World } from "./world";

const MESSAGE_ADDED = sourceOf(MessageAddedDocument);

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

  private async attempt(target: Target, intent: Intent): Promise<SendOutcome> {
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
      return await postSend(target, this.token, intent, this.world, controller.signal);
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
