import type { MikroORM } from "@mikro-orm/postgresql";
import { AsyncQueue } from "../../core/async-queue";
import { ConversationFeeds, type MembershipChange } from "../../core/feed";
import type { Logger } from "../../core/logger";
import { Topic, type PubSub } from "../../core/pubsub";
import { isCurrent } from "./participant.queries";

/**
 * The conversation side of the feeds (core/feed.ts): who is a current participant and where each
 * conversation stands, read from PostgreSQL, and joins and leaves from the membership topic. Also
 * the viewer's own inbox topics (conversationUpdated).
 */
export class ConversationStreams extends ConversationFeeds {
  constructor(
    private readonly orm: MikroORM,
    pubsub: PubSub,
    logger: Logger,
  ) {
    super(pubsub, logger);
  }

  /** Events of a per-user topic (the viewer's own inbox), decoded per event. */
  async userTopic<T>(topic: string, decode: (payload: unknown) => T): Promise<AsyncQueue<T>> {
    let unsubscribe = () => {};
    const queue = new AsyncQueue<T>(() => unsubscribe());
    unsubscribe = await this.pubsub.subscribe(topic, (payload) => queue.push(decode(payload)));
    return queue;
  }

  protected watchMembership(
    viewerId: string,
    listener: (change: MembershipChange) => void,
  ): Promise<() => void> {
    return this.pubsub.subscribe(Topic.membership(viewerId), (event) =>
      listener(event as MembershipChange),
    );
  }

  protected async memberships(viewerId: string): Promise<Map<string, number>> {
    const rows = await this.orm.em.fork().execute<{ id: string; last_seq: number }[]>(
      `select c.id, c.last_seq from participant p
         join conversation c on c.id = p.conversation_id
        where p.user_id = ? and ${isCurrent("p")}`,
      [viewerId],
    );
    return new Map(rows.map((r) => [r.id, r.last_seq]));
  }

  async lastSeq(viewerId: string, conversationId: string): Promise<number | null> {
    const rows = await this.orm.em.fork().execute<{ last_seq: number }[]>(
      `select c.last_seq from conversation c
         join participant p on p.conversation_id = c.id
        where c.id = ? and p.user_id = ? and ${isCurrent("p")}`,
      [conversationId, viewerId],
    );
    return rows.length ? rows[0].last_seq : null;
  }
}
