import type { MikroORM } from "@mikro-orm/postgresql";
import type { NotificationsConfig } from "../../config";
import type { Logger } from "../../core/logger";
import type { Metrics } from "../../core/metrics";
import type { PubSub } from "../../core/pubsub";
import type { MessageCreatedEvent } from "./notification.events";

/** Relay passes of all instances take turns on this advisory lock, so events leave in order. */
const RELAY_LOCK = 7_245_002;
const FIRST_RETRY_MS = 100;
const PUBLISH_TIMEOUT_MS = 5_000;
const DELETE_BATCH = 1_000;

interface OutboxRow {
  id: string;
  channel: string;
  /** The event as committed, JSON text without offlineRecipientIds (not parsed: it is sent on). */
  payload: string;
  recipients: string[] | null;
}

/** A claimed event as it goes out: the committed JSON with who was offline appended. */
interface OutgoingEvent {
  id: string;
  channel: string;
  json: string;
  offline: string[];
}

/** A JSON object's text with one more field, without parsing it again. */
function withField(object: string, field: string, value: unknown): string {
  const body = object.slice(0, object.lastIndexOf("}"));
  const separator = body.trim() === "{" ? "" : ", ";
  return `${body}${separator}${JSON.stringify(field)}: ${JSON.stringify(value)}}`;
}

export interface OnlineUsers {
  /** Which of userIds have an open connection on any instance. */
  online(userIds: readonly string[]): Promise<Set<string>>;
}

/**
 * Publishes committed outbox events to their channel and marks them sent, on every instance.
 * A pass claims the oldest unsent rows (`for update skip locked`, under an advisory lock shared by
 * all instances), publishes them in order, and marks them sent in the same transaction: a row is
 * published by one instance only, and a crash between publish and commit publishes it again
 * (consumers dedupe by eventId). Woken by sends (NOTIFICATIONS_BATCH_DELAY_MS later, so the
 * events of sends close together leave in one pass) and polling besides, so events left while
 * Redis was down go out once it answers; failures back off exponentially.
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
  private lastCleanup = 0;

  constructor(
    private readonly config: Readonly<NotificationsConfig>,
    private readonly orm: MikroORM,
    private readonly pubsub: PubSub,
    private readonly presence: OnlineUsers,
    private readonly metrics: Metrics,
    private readonly logger: Logger,
  ) {
    metrics.watchOutbox(() => this.pending());
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

  /** Unsent events of every instance. */
  async pending(): Promise<number> {
    const [row] = await this.orm.em
      .fork()
      .execute<{ count: string }[]>("select count(*) as count from outbox where sent_at is null");
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

  /** One round: passes until the backlog is out, then the cleanup; what came meanwhile waits. */
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
    await this.cleanup().catch((error: unknown) => {
      this.logger.warn({ err: error }, "notification cleanup failed");
    });
  }

  /** Passes until a batch comes back short. */
  private async drain(): Promise<void> {
    while ((await this.pass()) === this.config.batchSize && !this.stopped);
  }

  /** One batch; returns how many rows it claimed. Throws (after committing what went out) on failure. */
  private async pass(): Promise<number> {
    let failure: unknown = null;
    const { claimed, sent } = await this.orm.em.fork().transactional(async (em) => {
      // The advisory lock, then the rows (the lateral join runs after it), in one statement.
      const rows = await em.execute<OutboxRow[]>(
        `select o.id, o.channel, (o.payload - 'offlineRecipientIds')::text as payload,
                o.payload->'recipientIds' as recipients
           from (select 1 as turn from (select pg_advisory_xact_lock(?)) as locked) as l
           cross join lateral (
             select id, channel, payload from outbox where sent_at is null and l.turn = 1
              order by position limit ? for update skip locked) as o`,
        [RELAY_LOCK, this.config.batchSize],
      );
      if (!rows.length) return { claimed: 0, sent: 0 };
      // Offline at relay time: what a push service acts on now, and Redis answers here anyway.
      const online = await this.presence.online([
        ...new Set(rows.flatMap((row) => row.recipients ?? [])),
      ]);
      const events = rows.map((row): OutgoingEvent => {
        const offline = (row.recipients ?? []).filter((id) => !online.has(id));
        const json = withField(row.payload, "offlineRecipientIds", offline);
        return { id: row.id, channel: row.channel, json, offline };
      });
      const { count, error } = await this.publishAll(events);
      failure = error;
      const published = events.slice(0, count).map(({ id, offline }) => ({ id, offline }));
      if (published.length) {
        // The payload stays as committed; who was offline is written beside it.
        await em.execute(
          `update outbox o set sent_at = now(), offline_recipient_ids = s.offline
             from jsonb_to_recordset(?::jsonb) as s(id uuid, offline text[]) where o.id = s.id`,
          [JSON.stringify(published)],
        );
      }
      return { claimed: rows.length, sent: published.length };
    });
    if (sent) this.metrics.notificationsPublished.inc(sent);
    if (failure) throw failure;
    return claimed;
  }

  /** Publishes in order; says how many went out before the first failure, and that failure. */
  private async publishAll(events: OutgoingEvent[]): Promise<{ count: number; error: unknown }> {
    const redis = this.pubsub.redis;
    if (!redis) {
      for (const [i, { channel, json }] of events.entries()) {
        try {
          await this.pubsub.publish(channel, JSON.parse(json) as MessageCreatedEvent);
        } catch (error) {
          return { count: i, error };
        }
      }
      return { count: events.length, error: null };
    }
    // One round trip: Redis runs a pipeline's PUBLISHes in order, so the successes are a prefix.
    const pipeline = redis.pipeline();
    for (const { channel, json } of events) pipeline.publish(channel, json);
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

  /** Deletes sent rows older than the retention, in batches, at most once a minute. */
  private async cleanup(): Promise<void> {
    const now = Date.now();
    if (now - this.lastCleanup < Math.min(60_000, Math.max(1_000, this.config.retentionMs))) {
      return;
    }
    this.lastCleanup = now;
    const em = this.orm.em.fork();
    for (;;) {
      const result = await em.execute(
        `delete from outbox where id in (
           select id from outbox where sent_at < now() - make_interval(secs => ?)
            order by sent_at limit ? for update skip locked)`,
        [this.config.retentionMs / 1000, DELETE_BATCH],
        "run",
      );
      if ((result as { affectedRows?: number }).affectedRows !== DELETE_BATCH) return;
    }
  }
}
