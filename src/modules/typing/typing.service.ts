import type { EntityManager } from "@mikro-orm/postgresql";
import type { RequestScope } from "../../request-scope";
import type { RealtimeConfig } from "../../config";
import { NotFoundError } from "../../core/errors";
import { assertUuid } from "../../core/ids";
import type { Peek } from "../../core/rate-limit";
import type { Logger } from "../../core/logger";
import { Topic, type PubSub } from "../../core/pubsub";
import type { Viewer } from "../auth/viewer";
import { currentMembers } from "../conversations/participant.queries";
import type { ConversationFeeds, FeedFactory } from "../../core/feed";
import type { Safety } from "../moderation/safety";
import type { TypingStore } from "./typing.store";
import type { TypingEvent, TypingPayload } from "./typing.type";

type Typist = Pick<Viewer, "id" | "displayName">;

/**
 * Typing is never stored in Postgres. Starting publishes isTyping true with expiresAt; a client
 * repeats it while typing, and at most one event per user and conversation per throttle interval
 * goes out. Stopping (explicitly, by sending, leaving or disconnecting) publishes false at once.
 */
export class TypingService {
  constructor(
    private readonly config: Readonly<RealtimeConfig>,
    private readonly store: TypingStore,
    private readonly pubsub: PubSub,
    private readonly logger: Logger,
    private readonly safety: Safety,
  ) {}

  async set(ctx: RequestScope, id: string, isTyping: boolean): Promise<boolean> {
    const viewer = ctx.requireViewer();
    const conversationId = assertUuid(id, "conversationId");
    const audience = await currentMembers(ctx.em, conversationId);
    if (!audience.includes(viewer.id)) throw new NotFoundError("Conversation");
    if (!isTyping) {
      await this.stop(viewer, conversationId, audience);
      return true;
    }
    await this.safety.limiters.consume("typing", viewer.id);
    const { typingTtlMs, typingThrottleMs } = this.config;
    if (await this.store.start(conversationId, viewer.id, typingTtlMs, typingThrottleMs)) {
      const others = audience.filter((id) => id !== viewer.id);
      await this.publish({
        conversationId,
        user: { id: viewer.id, displayName: viewer.displayName },
        isTyping: true,
        expiresAt: new Date(Date.now() + typingTtlMs).toISOString(),
        audience,
        hiddenFrom: [...(await this.safety.blocks.blockedWith(ctx.em, viewer.id, others))],
      });
    }
    return true;
  }

  /** Where a send reads, with its own counters, whether the sender is typing (see stopAfterSend). */
  peek(userId: string, conversationId: string): Peek | null {
    return this.store.peek(conversationId, userId);
  }

  /**
   * Sending ends typing at once. `peeked` is the typing deadline read before the send (undefined:
   * not read); a sender who was not typing costs nothing more.
   */
  async stopAfterSend(
    user: Typist,
    conversationId: string,
    audience: string[],
    peeked: string | null | undefined,
  ): Promise<void> {
    if (peeked !== undefined && !(Number(peeked ?? 0) > Date.now())) return;
    await this.stop(user, conversationId, audience);
  }

  /** Ends a user's typing in a conversation, if any; `audience` is who should hear of it. */
  async stop(user: Typist, conversationId: string, audience: string[]): Promise<void> {
    if (!(await this.store.stop(conversationId, user.id))) return;
    await this.publish({
      conversationId,
      user: { id: user.id, displayName: user.displayName },
      isTyping: false,
      expiresAt: null,
      audience,
      hiddenFrom: [],
    });
  }

  /** A connection closed: end every typing of the user at once. */
  async stopAll(em: EntityManager, viewer: Viewer): Promise<void> {
    for (const conversationId of await this.store.active(viewer.id)) {
      await this.stop(viewer, conversationId, await currentMembers(em, conversationId));
    }
  }

  private async publish(payload: TypingPayload) {
    await this.pubsub.publish(Topic.typing(payload.conversationId), payload).catch((error) => {
      this.logger.warn({ err: error }, "typing publish failed");
    });
  }
}

/**
 * Each subscriber's instance keeps the expiry timers, so a typist whose refreshes stop (or whose
 * instance died) turns into isTyping false for every subscriber without anyone else's help.
 * The typist never receives their own events.
 */
export function typingFeed(streams: ConversationFeeds): FeedFactory<TypingEvent> {
  return ({ conversationId, viewerId, sink, revoke }) => {
    const timers = new Map<string, NodeJS.Timeout>();
    let stopped = false;
    const clear = (userId: string) => {
      const timer = timers.get(userId);
      clearTimeout(timer);
      timers.delete(userId);
      return timer !== undefined;
    };
    return {
      conversationId,
      start() {},
      onLive(raw) {
        const event = raw as TypingPayload;
        if (stopped) return;
        if (!streams.audienceOf(event).has(viewerId)) {
          stopped = true;
          for (const userId of [...timers.keys()]) clear(userId);
          return revoke();
        }
        // Typists never see their own events; a block hides typing both ways.
        if (event.user.id === viewerId || event.hiddenFrom.includes(viewerId)) return;
        const wasTyping = clear(event.user.id);
        if (!event.isTyping) {
          if (wasTyping) sink.push({ ...event, expiresAt: null });
          return;
        }
        const expiresAt = new Date(event.expiresAt!);
        timers.set(
          event.user.id,
          setTimeout(
            () => {
              timers.delete(event.user.id);
              if (!stopped) sink.push({ ...event, isTyping: false, expiresAt: null });
            },
            Math.max(0, expiresAt.getTime() - Date.now()),
          ),
        );
        sink.push({ ...event, expiresAt });
      },
      stop() {
        stopped = true;
        for (const userId of [...timers.keys()]) clear(userId);
      },
    };
  };
}
