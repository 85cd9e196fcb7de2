import type { MikroORM } from "@mikro-orm/postgresql";
import { AsyncQueue } from "../../core/async-queue";
import { BadUserInputError, NotFoundError } from "../../core/errors";
import { assertUuid } from "../../core/ids";
import type { Logger } from "../../core/logger";
import { Topic, type PubSub } from "../../core/pubsub";
import type { Viewer } from "../auth/viewer";
import type { MembershipEvent } from "../conversations/conversation.service";
import { Message } from "./message.entity";
import { fromPayload, type MessageAddedEvent, type MessageWithSender } from "./message.events";

/** Stored messages are replayed in pages of this size, and only while the client keeps up. */
const REPLAY_PAGE = 100;
const REPLAY_BUFFER = 200;

interface Decoded {
  message: MessageWithSender;
  audience: Set<string>;
}

type Sink = Pick<AsyncQueue<MessageWithSender>, "push" | "room">;

/**
 * Delivers one conversation to one subscriber in seq order, exactly once: stored messages after a
 * starting seq first, then live events. A live event that skips ahead (two instances published in
 * a race, or a publish was lost) is preceded by the missing seqs read from the database; seqs
 * commit in order under the conversation's row lock, so everything below a published seq is there.
 */
class ConversationFeed {
  private lastSent = 0;
  private stopped = false;
  private chain: Promise<void>;
  private open!: () => void;

  constructor(
    readonly conversationId: string,
    private readonly viewerId: string,
    private readonly sink: Sink,
    private readonly streams: MessageStreams,
    private readonly onRevoked: () => void,
  ) {
    // Live events wait behind the gate until the replay is done.
    this.chain = new Promise((resolve) => (this.open = resolve));
  }

  start(afterSeq: number, upTo: number): void {
    this.lastSent = afterSeq;
    this.catchUp(upTo)
      .catch((error: unknown) => this.fail(error))
      .finally(this.open);
  }

  onLive(event: MessageAddedEvent): void {
    if (this.stopped) return;
    this.chain = this.chain
      .then(() => this.deliver(event))
      .catch((error: unknown) => this.fail(error));
  }

  stop(): void {
    this.stopped = true;
  }

  private async deliver(event: MessageAddedEvent): Promise<void> {
    if (this.stopped) return;
    const { message, audience } = this.streams.decode(event);
    // The audience was fixed at commit: a member removed before it never sees the message.
    if (!audience.has(this.viewerId)) return this.revoke();
    if (message.seq <= this.lastSent) return;
    if (message.seq > this.lastSent + 1) await this.catchUp(message.seq - 1);
    if (this.stopped || message.seq <= this.lastSent) return;
    this.sink.push(message);
    this.lastSent = message.seq;
  }

  private async catchUp(upTo: number): Promise<void> {
    while (!this.stopped && this.lastSent < upTo) {
      await this.sink.room(REPLAY_BUFFER);
      const rows = await this.streams.readRange(
        this.conversationId,
        this.viewerId,
        this.lastSent,
        upTo,
      );
      if (!rows.length) {
        if (!(await this.streams.lastSeq(this.viewerId, this.conversationId))) this.revoke();
        return;
      }
      for (const row of rows) {
        if (this.stopped) return;
        this.sink.push(row);
        this.lastSent = row.seq;
      }
    }
  }

  private revoke(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.onRevoked();
  }

  private fail(error: unknown): void {
    this.streams.logger.error({ err: error, conversationId: this.conversationId }, "feed failed");
    this.revoke();
  }
}

/** The `messageAdded` subscription: per conversation, or every conversation of the viewer. */
export class MessageStreams {
  private readonly decoded = new WeakMap<MessageAddedEvent, Decoded>();

  constructor(
    private readonly orm: MikroORM,
    private readonly pubsub: PubSub,
    readonly logger: Logger,
  ) {}

  async messageAdded(
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
    return conversationId != null
      ? this.oneConversation(viewer, assertUuid(conversationId, "conversationId"), afterSeq ?? null)
      : this.allConversations(viewer);
  }

  private async oneConversation(viewer: Viewer, conversationId: string, afterSeq: number | null) {
    // Where the conversation stood when the client asked: everything after it is delivered.
    const startSeq = await this.lastSeq(viewer.id, conversationId);
    if (startSeq === null) throw new NotFoundError("Conversation");
    if (afterSeq !== null && afterSeq > startSeq) {
      throw new BadUserInputError("afterSeq", "afterSeq is beyond the newest message");
    }
    let unsubscribe = () => {};
    const queue = new AsyncQueue<MessageWithSender>(() => {
      feed.stop();
      unsubscribe();
    });
    const feed = new ConversationFeed(conversationId, viewer.id, queue, this, () => queue.end());
    unsubscribe = await this.pubsub.subscribe(Topic.messageAdded(conversationId), (event) =>
      feed.onLive(event as MessageAddedEvent),
    );
    try {
      // Messages committed while the subscription was being set up come from the database.
      const upTo = await this.lastSeq(viewer.id, conversationId);
      if (upTo === null) throw new NotFoundError("Conversation");
      feed.start(afterSeq ?? startSeq, upTo);
    } catch (error) {
      await queue.return();
      throw error;
    }
    return queue;
  }

  private async allConversations(viewer: Viewer) {
    const feeds = new Map<string, { feed: ConversationFeed; unsubscribe: () => void }>();
    let unsubscribeMembership = () => {};
    const queue = new AsyncQueue<MessageWithSender>(() => {
      unsubscribeMembership();
      for (const id of [...feeds.keys()]) detach(id);
    });

    const attach = async (conversationId: string) => {
      if (feeds.has(conversationId)) return null;
      const feed = new ConversationFeed(conversationId, viewer.id, queue, this, () =>
        detach(conversationId),
      );
      const entry = { feed, unsubscribe: () => {} };
      feeds.set(conversationId, entry);
      const unsubscribe = await this.pubsub.subscribe(Topic.messageAdded(conversationId), (event) =>
        feed.onLive(event as MessageAddedEvent),
      );
      if (feeds.get(conversationId) === entry) entry.unsubscribe = unsubscribe;
      else unsubscribe();
      return feed;
    };
    const detach = (conversationId: string) => {
      const entry = feeds.get(conversationId);
      if (!entry) return;
      feeds.delete(conversationId);
      entry.feed.stop();
      entry.unsubscribe();
    };

    // Membership events queue behind the initial listing, then apply in order.
    let membershipChain: Promise<unknown> = Promise.resolve();
    let ready!: () => void;
    const initialised = new Promise<void>((resolve) => (ready = resolve));
    const onMembership = async (event: MembershipEvent) => {
      if (queue.isClosed) return;
      if (event.type === "left") return detach(event.conversationId);
      const feed = await attach(event.conversationId);
      if (!feed) return;
      const lastSeq = await this.lastSeq(viewer.id, event.conversationId);
      if (lastSeq === null) return detach(event.conversationId);
      feed.start(Math.min(event.sinceSeq, lastSeq), lastSeq);
    };
    unsubscribeMembership = await this.pubsub.subscribe(Topic.membership(viewer.id), (event) => {
      membershipChain = membershipChain
        .then(() => initialised)
        .then(() => onMembership(event as MembershipEvent))
        .catch((error: unknown) => this.logger.error({ err: error }, "membership event failed"));
    });

    try {
      // Read where each conversation stands, listen, then read again: the difference is replayed.
      const before = await this.memberships(viewer.id);
      const attached = await Promise.all([...before.keys()].map((id) => attach(id)));
      const after = await this.memberships(viewer.id);
      for (const feed of attached) {
        if (!feed) continue;
        const startSeq = before.get(feed.conversationId)!;
        const upTo = after.get(feed.conversationId);
        if (upTo === undefined) detach(feed.conversationId);
        else feed.start(startSeq, upTo);
      }
    } catch (error) {
      await queue.return();
      throw error;
    } finally {
      ready();
    }
    return queue;
  }

  /** The decoded message and audience of an event, computed once however many subscribers share it. */
  decode(event: MessageAddedEvent): Decoded {
    let decoded = this.decoded.get(event);
    if (!decoded) {
      decoded = { message: fromPayload(event.message), audience: new Set(event.audience) };
      this.decoded.set(event, decoded);
    }
    return decoded;
  }

  /** The newest seq of every conversation the viewer is currently in. */
  private async memberships(viewerId: string): Promise<Map<string, number>> {
    const rows = await this.orm.em.fork().execute<{ id: string; last_seq: number }[]>(
      `select c.id, c.last_seq from participant p
         join conversation c on c.id = p.conversation_id
        where p.user_id = ? and p.left_at is null`,
      [viewerId],
    );
    return new Map(rows.map((r) => [r.id, r.last_seq]));
  }

  /** The conversation's newest seq if the viewer is a current participant, else null. */
  async lastSeq(viewerId: string, conversationId: string): Promise<number | null> {
    const rows = await this.orm.em.fork().execute<{ last_seq: number }[]>(
      `select c.last_seq from conversation c
         join participant p on p.conversation_id = c.id
        where c.id = ? and p.user_id = ? and p.left_at is null`,
      [conversationId, viewerId],
    );
    return rows.length ? rows[0].last_seq : null;
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
                         and p.user_id = ? and p.left_at is null)
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
