import type { MikroORM } from "@mikro-orm/postgresql";
import type { NotificationsConfig } from "../../config";
import type { Logger } from "../../core/logger";
import type { Metrics } from "../../core/metrics";
import type { PubSub } from "../../core/pubsub";
import { MESSAGE_CREATED, type MessageCreatedEvent } from "./notification.events";

/** Relay passes of all instances take turns on this advisory lock, so events leave in order. */
const RELAY_LOCK = 7_245_002;
/** The relay's row of relay_cursor: how far in (xid, conversation_id, seq) order events went out. */
const CURSOR = "notifications";
const FIRST_RETRY_MS = 100;
const PUBLISH_TIMEOUT_MS = 5_000;

/** A user's message after the cursor, with who it was for when it committed. */
interface LogRow {
  id: string;
  conversation_id: string;
  seq: number;
  sender_id: string;
  created_at: Date;
  /** The writing transaction's id, as text (xid8 is 64 bits). */
  xid: string;
  recipients: string[];
}

/** Users' messages after the relay's cursor, what it has still to publish; its `?`: the cursor's name. */
const AFTER_CURSOR = `
    from relay_cursor r
    join message m on (m.xid, m.conversation_id, m.seq) > (r.xid, r.conversation_id, r.seq)
   where r.name = ? and m.kind <> 'SYSTEM' and m.sender_id is not null`;

/**
 * Those of them in log order (message.xid, then each conversation's seqs) written by
 * transactions older than every one still running (the snapshot's xmin): a transaction that
 * began before another but commits after it is waited for, never skipped, since every
 * transaction the relay reads up to has ended. Recipients are the participants whose membership
 * (joined_seq, left_seq) covers the message's seq, which is who they were at commit: membership
 * changes take the conversation's row lock and seqs as sends do.
 */
const READ_LOG = `
  select m.id, m.conversation_id, m.seq, m.sender_id, m.created_at, m.xid::text as xid,
         array(select p.user_id from participant p
                where p.conversation_id = m.conversation_id and p.user_id <> m.sender_id
                  and p.joined_seq < m.seq and (p.left_at is null or m.seq <= p.left_seq)
                order by p.user_id) as recipients
  ${AFTER_CURSOR} and m.xid < pg_snapshot_xmin(pg_current_snapshot())
   order by m.xid, m.conversation_id, m.seq
   limit ?`;

export interface OnlineUsers {
  /** Which of userIds have an open connection on any instance. */
  online(userIds: readonly string[]): Promise<Set<string>>;
}

/**
 * Publishes a message.created event for every user's message, from the message table itself:
 * the message row is the event, committed or not with it. A pass (one transaction, under an
 * advisory lock shared by all instances) reads the messages after the relay's cursor
 * (relay_cursor) up to the horizon (READ_LOG), publishes them in order, and moves the cursor past
 * what went out in the same transaction: one instance publishes each, and a crash between
 * publish and commit publishes it again (consumers dedupe by eventId). Woken by sends
 * (NOTIFICATIONS_BATCH_DELAY_MS later, so the events of sends close together leave in one pass)
 * and polling besides, so events held up while Redis was down go out once it answers; failures
 * back off exponentially. A send writes nothing for its event beyond the message.
 * With Redis the channel is not prefixed; embedded (no REDIS_URL), events go to the in-process bus.
 */
export class NotificationRelay {
  private timer: NodeJS.Timeout | null = null;
  /** The pass a send asked for, batchDelayMs after it. */
  private soon: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private rerun = false;
  private failures = 0;
  private started = false;
  private stopped = false;

  constructor(
    private readonly config: Readonly<NotificationsConfig>,
    private readonly orm: MikroORM,
    private readonly pubsub: PubSub,
    private readonly presence: OnlineUsers,
    private readonly metrics: Metrics,
    private readonly logger: Logger,
  ) {
    metrics.watchNotificationBacklog(() => this.pending());
  }

  start(): void {
    this.started = true;
    this.kick();
  }

  /**
   * A send committed: relay after NOTIFICATIONS_BATCH_DELAY_MS, with whatever else committed by
   * then (one pass for many sends), unless waiting out a failure (the retry timer runs then).
   */
  wake(): void {
    if (!this.started || this.stopped || this.failures !== 0) return;
    if (this.running) {
      this.rerun = true;
      return;
    }
    if (this.soon) return;
    this.soon = setTimeout(() => {
      this.soon = null;
      this.kick();
    }, this.config.batchDelayMs);
    this.soon.unref();
  }

  /** Finishes the pass under way, then relays what is left once more (in-flight sends drained). */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.soon) clearTimeout(this.soon);
    await this.running;
    if (this.started && this.failures === 0) {
      await this.drain().catch((error: unknown) => {
        this.logger.warn({ err: error }, "notification relay: final pass failed");
      });
    }
  }

  /** Users' messages committed and not yet relayed (by any instance). */
  async pending(): Promise<number> {
    const [row] = await this.orm.em
      .fork()
      .execute<{ count: string }[]>(`select count(*) as count ${AFTER_CURSOR}`, [CURSOR]);
    return Number(row.count);
  }

  private kick(): void {
    if (this.running) {
      this.rerun = true;
      return;
    }
    if (this.timer) clearTimeout(this.timer);
    this.running = this.loop().finally(() => {
      this.running = null;
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.stopped) return;
    if (this.rerun && !this.failures) {
      // Sends committed during the pass: their events leave together, a batch delay later.
      this.rerun = false;
      this.wake();
    }
    const delay = this.failures
      ? Math.min(this.config.retryMaxMs, FIRST_RETRY_MS * 2 ** Math.min(this.failures - 1, 20))
      : this.config.pollMs;
    this.timer = setTimeout(() => this.kick(), delay);
    this.timer.unref();
  }

  /** One round: passes until the backlog is out; what came meanwhile waits. */
  private async loop(): Promise<void> {
    try {
      await this.drain();
    } catch (error) {
      this.failures++;
      this.metrics.notificationRelayFailures.inc();
      const level = this.failures === 1 ? "warn" : "debug";
      this.logger[level]({ err: error, failures: this.failures }, "notification relay failed");
      return;
    }
    if (this.failures) {
      this.logger.info({ failures: this.failures }, "notification relay recovered");
      this.failures = 0;
    }
  }

  /** Passes until a batch comes back short. */
  private async drain(): Promise<void> {
    while ((await this.pass()) === this.config.batchSize && !this.stopped);
  }

  /** One batch; returns how many messages it read. Throws (after committing what went out) on failure. */
  private async pass(): Promise<number> {
    let failure: unknown = null;
    const { claimed, sent } = await this.orm.em.fork().transactional(async (em) => {
      // The lock first, in a statement of its own: the read after it sees the cursor as the
      // previous pass (of any instance) committed it.
      await em.execute("select pg_advisory_xact_lock(?)", [RELAY_LOCK]);
      const rows = await em.execute<LogRow[]>(READ_LOG, [CURSOR, this.config.batchSize]);
      if (!rows.length) return { claimed: 0, sent: 0 };
      // Offline at relay time: what a push service acts on now, and Redis answers here anyway.
      const online = await this.presence.online([...new Set(rows.flatMap((r) => r.recipients))]);
      const events = rows.map(
        (row): MessageCreatedEvent => ({
          eventId: row.id,
          type: MESSAGE_CREATED,
          messageId: row.id,
          conversationId: row.conversation_id,
          seq: Number(row.seq),
          senderId: row.sender_id,
          recipientIds: row.recipients,
          offlineRecipientIds: row.recipients.filter((id) => !online.has(id)),
          createdAt: new Date(row.created_at).toISOString(),
        }),
      );
      const { count, error } = await this.publishAll(events);
      failure = error;
      if (count) {
        const last = rows[count - 1];
        await em.execute(
          "update relay_cursor set xid = ?::xid8, conversation_id = ?, seq = ? where name = ?",
          [last.xid, last.conversation_id, last.seq, CURSOR],
        );
      }
      return { claimed: rows.length, sent: count };
    });
    if (sent) this.metrics.notificationsPublished.inc(sent);
    if (failure) throw failure;
    return claimed;
  }

  /** Publishes in order; says how many went out before the first failure, and that failure. */
  private async publishAll(
    events: MessageCreatedEvent[],
  ): Promise<{ count: number; error: unknown }> {
    const { channel } = this.config;
    const redis = this.pubsub.redis;
    if (!redis) {
      for (const [i, event] of events.entries()) {
        try {
          await this.pubsub.publish(channel, event);
        } catch (error) {
          return { count: i, error };
        }
      }
      return { count: events.length, error: null };
    }
    // One round trip: Redis runs a pipeline's PUBLISHes in order, so the successes are a prefix.
    const pipeline = redis.pipeline();
    for (const event of events) pipeline.publish(channel, JSON.stringify(event));
    let timer: NodeJS.Timeout | undefined;
    try {
      const results = await Promise.race([
        pipeline.exec(),
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(new Error("Redis PUBLISH timed out")),
            PUBLISH_TIMEOUT_MS,
          );
        }),
      ]);
      if (!results) return { count: 0, error: new Error("Redis pipeline did not run") };
      const failed = results.findIndex(([error]) => error);
      return failed === -1
        ? { count: events.length, error: null }
        : { count: failed, error: results[failed][0] };
    } catch (error) {
      // Nothing is known to have gone out: all stay unsent (a timed-out PUBLISH may still land).
      return { count: 0, error };
    } finally {
      clearTimeout(timer);
    }
  }
}
