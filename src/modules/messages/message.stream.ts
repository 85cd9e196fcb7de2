import type { MikroORM } from "@mikro-orm/postgresql";
import type { AsyncQueue } from "../../core/async-queue";
import { BadUserInputError } from "../../core/errors";
import { audienceFeed, type ConversationFeeds, type Feed, type FeedContext } from "../../core/feed";
import { assertUuid } from "../../core/ids";
import type { Logger } from "../../core/logger";
import { Topic, type PubSub } from "../../core/pubsub";
import { isCurrent } from "../conversations/participant.queries";
import type { Viewer } from "../auth/viewer";
import { Message } from "./message.entity";
import {
  fromPayload,
  type MessageAddedEvent,
  type MessageUpdatedEvent,
  type MessageWithSender,
} from "./message.events";

/** Stored messages are replayed in pages of this size, and only while the client keeps up. */
const REPLAY_PAGE = 100;
const REPLAY_BUFFER = 200;
/** Conversations whose newest seq one resync query reads. */
const RESYNC_BATCH = 500;

/**
 * Delivers one conversation's new messages to one subscriber in seq order, exactly once: stored
 * messages after the starting seq first, then live events. A live event that skips ahead (sends
 * committed in one order publish in another, or a publish was lost) waits up to the gap wait for
 * the missing seqs to arrive live; what is still missing then is read from the database (seqs
 * commit in order under the conversation's row lock, so all below it are there). Events that never
 * arrive (Redis was down, the publisher crashed after commit) are read when the feed resyncs; a
 * failed read leaves it where it stands, to continue from there.
 */
class OrderedFeed implements Feed {
  readonly conversationId: string;
  private lastSent = 0;
  private stopped = false;
  /** Reads (replay, catch-up, resync) under way or queued; while any is, live events wait in `ahead`. */
  private reads = 1;
  /** Reads run one after another, and only once start() said where the client stands. */
  private chain: Promise<void>;
  private open!: () => void;
  /** Live messages beyond lastSent + 1, by seq. */
  private readonly ahead = new Map<number, MessageWithSender>();
  private gapTimer: NodeJS.Timeout | null = null;
  /** The newest seq a resync found, read after a gap wait if it has not arrived live by then. */
  private resyncTarget = 0;
  private resyncTimer: NodeJS.Timeout | null = null;

  constructor(
    private readonly context: FeedContext<MessageWithSender>,
    private readonly streams: MessageStreams,
  ) {
    this.conversationId = context.conversationId;
    this.chain = new Promise((resolve) => (this.open = resolve));
    streams.live.add(this);
  }

  start(startSeq: number, upTo: number): void {
    this.lastSent = startSeq;
    this.open();
    // The replay: the read counted since construction.
    this.reads--;
    this.read(upTo);
  }

  onLive(event: unknown): void {
    if (this.stopped) return;
    // The audience was fixed at commit: a member removed before it never sees the message.
    if (
      !this.streams.conversations.audienceOf(event as MessageAddedEvent).has(this.context.viewerId)
    ) {
      this.revoke();
      return;
    }
    const message = this.streams.decode(event as MessageAddedEvent);
    if (message.seq <= this.lastSent) return;
    // The common case, the next seq with nothing ahead of it, costs no promise and no timer.
    if (this.reads === 0 && message.seq === this.lastSent + 1) {
      this.push(message);
      if (this.ahead.size) this.flush();
      return;
    }
    this.ahead.set(message.seq, message);
    if (this.reads === 0) this.awaitGap();
  }

  stop(): void {
    this.stopped = true;
    this.ahead.clear();
    if (this.gapTimer) clearTimeout(this.gapTimer);
    if (this.resyncTimer) clearTimeout(this.resyncTimer);
    this.gapTimer = null;
    this.resyncTimer = null;
    this.streams.live.delete(this);
  }

  /** Catches up to upTo, the conversation's newest seq, if live events went missing. */
  resync(upTo: number): void {
    if (this.stopped || upTo <= this.lastSent) return;
    // Messages committed a moment ago are usually on their way: read only what is still missing
    // a gap wait later, not every feed behind by a message in flight (a burst of reads per resync).
    this.resyncTarget = Math.max(this.resyncTarget, upTo);
    if (this.resyncTimer) return;
    this.resyncTimer = setTimeout(() => {
      this.resyncTimer = null;
      if (!this.stopped && this.resyncTarget > this.lastSent) this.read(this.resyncTarget);
    }, this.streams.gapWaitMs);
  }

  private push(message: MessageWithSender): void {
    this.context.sink.push(message);
    this.lastSent = message.seq;
  }

  /** Delivers the messages waiting ahead that follow on now; a gap left waits again. */
  private flush(): void {
    for (
      let next = this.ahead.get(this.lastSent + 1);
      next;
      next = this.ahead.get(this.lastSent + 1)
    ) {
      this.ahead.delete(next.seq);
      this.push(next);
    }
    for (const seq of this.ahead.keys()) if (seq <= this.lastSent) this.ahead.delete(seq);
    if (!this.ahead.size) {
      if (this.gapTimer) clearTimeout(this.gapTimer);
      this.gapTimer = null;
    } else if (this.reads === 0) {
      this.awaitGap();
    }
  }

  /** The missing seqs get the gap wait to arrive live; then they are read. */
  private awaitGap(): void {
    if (this.gapTimer || this.stopped) return;
    this.gapTimer = setTimeout(() => {
      // Timers run before the I/O of the same turn: on a busy loop the missing event may be
      // received but not yet read. setImmediate lets it in first.
      setImmediate(() => {
        this.gapTimer = null;
        if (this.stopped || !this.ahead.size) return;
        this.read(Math.min(...this.ahead.keys()) - 1);
      });
    }, this.streams.gapWaitMs);
  }

  /** Reads up to upTo from the database, after any read under way; live events wait meanwhile. */
  private read(upTo: number): void {
    this.reads++;
    this.chain = this.chain
      .then(() => this.catchUp(upTo))
      .catch((error: unknown) => this.fail(error))
      .then(() => {
        this.reads--;
        if (!this.stopped && this.reads === 0) this.flush();
      });
  }

  private async catchUp(upTo: number): Promise<void> {
    const { conversationId, viewerId, sink } = this.context;
    while (!this.stopped && this.lastSent < upTo) {
      await sink.room(REPLAY_BUFFER);
      const rows = await this.streams.readRange(conversationId, viewerId, this.lastSent, upTo);
      if (!rows.length) {
        if ((await this.streams.conversations.lastSeq(viewerId, conversationId)) === null) {
          this.revoke();
        }
        return;
      }
      for (const row of rows) {
        if (this.stopped) return;
        if (row.seq > this.lastSent) this.push(row);
      }
    }
  }

  private revoke(): void {
    if (this.stopped) return;
    this.stop();
    this.context.revoke();
  }

  /** A read failed (PostgreSQL down): the next event, resync or reconnect continues from lastSent. */
  private fail(error: unknown): void {
    this.streams.logger.warn(
      { err: error, conversationId: this.conversationId, lastSent: this.lastSent },
      "feed behind: catching up later",
    );
  }
}

/** The `messageAdded` and `messageUpdated` subscriptions. */
export class MessageStreams {
  private readonly decoded = new WeakMap<object, MessageWithSender>();
  /** The open messageAdded feeds of this instance. */
  readonly live = new Set<OrderedFeed>();
  private resyncTimer: NodeJS.Timeout | null = null;
  private stopResubscribed = () => {};
  private resyncing = false;
  private resyncAgain = false;

  constructor(
    private readonly orm: MikroORM,
    readonly conversations: ConversationFeeds,
    readonly logger: Logger,
    /** How long a live event that skips ahead waits for the seqs before it to arrive live. */
    readonly gapWaitMs: number,
  ) {}

  messageAdded(
    viewer: Viewer,
    conversationId: string | null | undefined,
    afterSeq: number | null | undefined,
  ): Promise<AsyncQueue<MessageWithSender>> {
    if (afterSeq != null) {
      if (conversationId == null) {
        throw new BadUserInputError("afterSeq", "afterSeq needs conversationId");
      }
      if (afterSeq < 0) throw new BadUserInputError("afterSeq", "afterSeq must not be negative");
    }
    return this.conversations.open<MessageWithSender>(viewer, {
      conversationId: conversationId != null ? assertUuid(conversationId, "conversationId") : null,
      topic: Topic.messageAdded,
      afterSeq,
      check: (startSeq) => {
        if (afterSeq != null && afterSeq > startSeq) {
          throw new BadUserInputError("afterSeq", "afterSeq is beyond the newest message");
        }
      },
      feed: (context) => new OrderedFeed(context, this),
    });
  }

  messageUpdated(
    viewer: Viewer,
    conversationId: string | null | undefined,
  ): Promise<AsyncQueue<MessageWithSender>> {
    return this.conversations.open<MessageWithSender>(viewer, {
      conversationId: conversationId != null ? assertUuid(conversationId, "conversationId") : null,
      topic: Topic.messageUpdated,
      feed: audienceFeed<MessageUpdatedEvent, MessageWithSender>(this.conversations, (event) =>
        this.decode(event),
      ),
    });
  }

  /**
   * Resyncs every feed each intervalMs (a publish can be lost without anyone noticing: a crash
   * between commit and publish) and at once when the Redis subscriber is back after an outage.
   */
  start(intervalMs: number, pubsub: PubSub): void {
    this.resyncTimer = setInterval(() => this.resync(), intervalMs);
    this.resyncTimer.unref();
    this.stopResubscribed = pubsub.onResubscribed(() => this.resync());
  }

  stop(): void {
    if (this.resyncTimer) clearInterval(this.resyncTimer);
    this.resyncTimer = null;
    this.stopResubscribed();
  }

  /** Feeds behind their conversation's newest seq catch up; one query per batch of conversations. */
  resync(): void {
    // A resync asked for while one runs runs again after it: it may have read positions too early.
    if (this.resyncing) {
      this.resyncAgain = true;
      return;
    }
    this.resyncing = true;
    void (async () => {
      do {
        this.resyncAgain = false;
        await this.compare().catch((error: unknown) => {
          this.logger.warn({ err: error }, "feed resync failed");
        });
      } while (this.resyncAgain);
      this.resyncing = false;
    })();
  }

  private async compare(): Promise<void> {
    const feeds = new Map<string, OrderedFeed[]>();
    for (const feed of this.live) {
      const list = feeds.get(feed.conversationId);
      if (list) list.push(feed);
      else feeds.set(feed.conversationId, [feed]);
    }
    const ids = [...feeds.keys()];
    for (let i = 0; i < ids.length; i += RESYNC_BATCH) {
      const rows = await this.orm.em.fork().execute<{ id: string; last_seq: number }[]>(
        `select id, last_seq from conversation
          where id in (select value::uuid from jsonb_array_elements_text(?::jsonb))`,
        [JSON.stringify(ids.slice(i, i + RESYNC_BATCH))],
      );
      for (const row of rows) for (const feed of feeds.get(row.id) ?? []) feed.resync(row.last_seq);
    }
  }

  /** The message of an event, decoded once however many local subscribers share it. */
  decode(event: MessageAddedEvent | MessageUpdatedEvent): MessageWithSender {
    let message = this.decoded.get(event);
    if (!message) {
      message = fromPayload(event.message);
      this.decoded.set(event, message);
    }
    return message;
  }

  /** Stored messages with afterSeq < seq <= upTo, with their senders, while the viewer is a member. */
  async readRange(
    conversationId: string,
    viewerId: string,
    afterSeq: number,
    upTo: number,
  ): Promise<MessageWithSender[]> {
    const em = this.orm.em.fork();
    const rows = await em.execute<Array<Record<string, unknown>>>(
      `select m.*, u.display_name as sender_display_name
         from message m left join app_user u on u.id = m.sender_id
        where m.conversation_id = ? and m.seq > ? and m.seq <= ?
          and exists (select 1 from participant p where p.conversation_id = m.conversation_id
                         and p.user_id = ? and ${isCurrent("p")})
        order by m.seq limit ?`,
      [conversationId, afterSeq, upTo, viewerId, REPLAY_PAGE],
    );
    return rows.map(({ sender_display_name, ...row }) => {
      const message: MessageWithSender = em.map(Message, row);
      message.sender = message.senderId
        ? { id: message.senderId, displayName: (sender_display_name as string | null) ?? null }
        : null;
      return message;
    });
  }
}
