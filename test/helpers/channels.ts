import { Redis } from "ioredis";
import type { MessageCreatedEvent } from "../../src/modules/notifications/notification.events";
import { query } from "./database";
import { eventually } from "./eventually";

/** The Redis channels an instance subscribes to, under the instance's key prefix. */
export function channels(prefix: string) {
  return {
    messageAdded: (id: string) => `${prefix}conversation:${id}:message-added`,
    messageUpdated: (id: string) => `${prefix}conversation:${id}:message-updated`,
    readReceipt: (id: string) => `${prefix}conversation:${id}:read-receipt`,
    conversationUpdated: (userId: string) => `${prefix}user:${userId}:conversation-updated`,
    membership: (userId: string) => `${prefix}user:${userId}:membership`,
  };
}

/** A plain Redis subscriber on the notifications channel, as a push service would run it. */
export class ChannelListener {
  readonly events: MessageCreatedEvent[] = [];

  private constructor(private readonly redis: Redis) {}

  static async open(url: string, channel: string, password?: string): Promise<ChannelListener> {
    const redis = new Redis(url, { lazyConnect: true, password });
    await redis.connect();
    const listener = new ChannelListener(redis);
    redis.on("message", (_channel: string, message: string) => {
      listener.events.push(JSON.parse(message) as MessageCreatedEvent);
    });
    await redis.subscribe(channel);
    return listener;
  }

  /** This conversation's events, in the order they arrived. */
  of(conversationId: string): MessageCreatedEvent[] {
    return this.events.filter((e) => e.conversationId === conversationId);
  }

  async waitFor(conversationId: string, count: number): Promise<MessageCreatedEvent[]> {
    await eventually(
      () => this.of(conversationId).length >= count,
      `${count} events of ${conversationId} (have ${this.of(conversationId).length})`,
    );
    return this.of(conversationId);
  }

  close(): void {
    this.redis.disconnect();
  }
}

/** Users' messages the notification relay has not published yet (of these ids, or of all). */
export async function unrelayed(databaseUrl: string, messageIds?: string[]): Promise<number> {
  const [row] = await query<{ count: string }>(
    databaseUrl,
    `select count(*) as count from relay_cursor r
       join message m on (m.xid, m.conversation_id, m.seq) > (r.xid, r.conversation_id, r.seq)
      where r.name = 'notifications' and m.kind <> 'SYSTEM'
        and ($1::uuid[] is null or m.id = any($1::uuid[]))`,
    [messageIds ?? null],
  );
  return Number(row.count);
}
