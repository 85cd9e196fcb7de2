import { randomUUID } from "node:crypto";
import type { EntityManager, MikroORM } from "@mikro-orm/postgresql";
import type { RealtimeConfig } from "../../config";
import { AsyncQueue } from "../../core/async-queue";
import type { Logger } from "../../core/logger";
import { Topic, type PubSub } from "../../core/pubsub";
import { markLastSeen } from "../users/user.queries";
import type { PresenceStore } from "./presence.store";
import { PresenceWatch } from "./presence.watch";
import { visibleUsers } from "./presence.visibility";
import { Presence, PresenceStatus, type PresencePayload } from "./presence.type";

/**
 * Presence counts connections, not users: ONLINE when a user's first connection opens on any
 * instance, OFFLINE when the last one closes (after a grace period, so a quick reconnect or a
 * second device never flickers), or when the instance holding it stops renewing its entries.
 */
/** Users going OFFLINE within this long of each other are announced together. */
const OFFLINE_BATCH_MS = 20;

export class PresenceService {
  readonly instanceId = randomUUID();
  private readonly local = new Map<string, number>();
  private readonly grace = new Map<string, NodeJS.Timeout>();
  private readonly leaving = new Set<string>();
  private leavingTimer: NodeJS.Timeout | null = null;
  private ticker: NodeJS.Timeout | null = null;
  private ticking: Promise<void> = Promise.resolve();
  private stopped = false;

  constructor(
    private readonly config: Readonly<RealtimeConfig>,
    private readonly store: PresenceStore,
    private readonly pubsub: PubSub,
    private readonly orm: MikroORM,
    private readonly logger: Logger,
  ) {}

  start(): void {
    this.ticker = setInterval(() => {
      this.ticking = this.tick().catch((error) =>
        this.logger.warn({ err: error }, "presence tick"),
      );
    }, this.config.presenceHeartbeatMs);
    this.ticker.unref();
  }

  /** Stops renewing; entries expire and surviving instances (where clients reconnect) take over. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.ticker) clearInterval(this.ticker);
    for (const timer of this.grace.values()) clearTimeout(timer);
    this.grace.clear();
    if (this.leavingTimer) clearTimeout(this.leavingTimer);
    this.leaving.clear();
    await this.ticking;
  }

  /** A connection opened; false when the user already has the maximum open across instances. */
  async connect(userId: string): Promise<boolean> {
    const now = Date.now();
    const total = await this.store.countConnections(userId, this.instanceId, 1, now);
    if (total > this.config.maxConnectionsPerUser) {
      await this.store.countConnections(userId, this.instanceId, -1, now);
      return false;
    }
    const count = (this.local.get(userId) ?? 0) + 1;
    this.local.set(userId, count);
    if (count > 1) return true;
    const pending = this.grace.get(userId);
    if (pending) {
      clearTimeout(pending);
      this.grace.delete(userId);
      return true;
    }
    const deadline = now + this.config.presenceTtlMs;
    if (!(await this.store.markOnline(userId, this.instanceId, deadline, now))) {
      await this.publish({ userId, status: PresenceStatus.ONLINE, lastSeenAt: null });
    }
    return true;
  }

  async disconnect(userId: string): Promise<void> {
    if (this.stopped) return;
    await this.store.countConnections(userId, this.instanceId, -1, Date.now());
    const count = (this.local.get(userId) ?? 1) - 1;
    if (count > 0) {
      this.local.set(userId, count);
      return;
    }
    this.local.delete(userId);
    const timer = setTimeout(() => {
      this.grace.delete(userId);
      if (!this.local.has(userId)) this.goOffline(userId);
    }, this.config.presenceGraceMs);
    this.grace.set(userId, timer);
  }

  /**
   * Users whose grace ended within a few milliseconds of each other go OFFLINE together: one
   * statement for all their lastSeenAt (an instance restart disconnects thousands at once).
   */
  private goOffline(userId: string): void {
    this.leaving.add(userId);
    if (this.leavingTimer) return;
    this.leavingTimer = setTimeout(() => {
      this.leavingTimer = null;
      const users = [...this.leaving];
      this.leaving.clear();
      void this.announceLeft(users);
    }, OFFLINE_BATCH_MS);
  }

  private async announceLeft(userIds: string[]): Promise<void> {
    try {
      const now = Date.now();
      // Those who reconnected meanwhile are still online here; the rest are marked together.
      const leaving = userIds.filter((userId) => !this.local.has(userId));
      const elsewhere = await Promise.all(
        leaving.map((userId) => this.store.markOffline(userId, this.instanceId, now)),
      );
      await this.announceOffline(leaving.filter((_, i) => !elsewhere[i]));
    } catch (error) {
      this.logger.warn({ err: error, users: userIds.length }, "presence offline failed");
    }
  }

  private async announceOffline(userIds: string[]): Promise<void> {
    if (!userIds.length) return;
    const lastSeenAt = new Date();
    await markLastSeen(this.orm.em.fork(), userIds, lastSeenAt);
    for (const userId of userIds) {
      await this.publish({
        userId,
        status: PresenceStatus.OFFLINE,
        lastSeenAt: lastSeenAt.toISOString(),
      });
    }
  }

  /** Renews this instance's entries and takes over those of instances that died. */
  private async tick(): Promise<void> {
    const now = Date.now();
    const users = [...this.local.keys(), ...this.grace.keys()];
    await this.store.heartbeat(this.instanceId, users, now + this.config.presenceTtlMs);
    const orphans = await this.store.claimDead(now);
    if (!orphans.length) return;
    const still = await this.store.online(orphans, now);
    await this.announceOffline(orphans.filter((userId) => !still.has(userId)));
  }

  /** Which of userIds have an open connection anywhere, whoever asks: for internal use only. */
  async online(userIds: readonly string[]): Promise<Set<string>> {
    return userIds.length ? this.store.online([...userIds], Date.now()) : new Set();
  }

  /** Presence of users the viewer may see; everyone else reads OFFLINE with no lastSeenAt. */
  async statuses(em: EntityManager, viewerId: string, userIds: readonly string[]) {
    const visible = await visibleUsers(em, viewerId, userIds);
    const online = await this.store.online([...visible.keys()], Date.now());
    return userIds.map((userId): Presence => {
      if (!visible.has(userId)) return { userId, status: PresenceStatus.OFFLINE, lastSeenAt: null };
      return online.has(userId)
        ? { userId, status: PresenceStatus.ONLINE, lastSeenAt: null }
        : { userId, status: PresenceStatus.OFFLINE, lastSeenAt: visible.get(userId) ?? null };
    });
  }

  /**
   * The current status of the visible ones among userIds (default: the viewer's contacts who are
   * ONLINE), then their changes, with visibility re-read as conversations and blocks change.
   */
  async subscribe(
    viewerId: string,
    userIds: readonly string[] | null,
  ): Promise<AsyncQueue<Presence>> {
    const watch = await PresenceWatch.open(
      { orm: this.orm, pubsub: this.pubsub, store: this.store, logger: this.logger },
      viewerId,
      userIds,
    );
    return watch.queue;
  }

  private async publish(payload: PresencePayload): Promise<void> {
    await this.pubsub.publish(Topic.presence(payload.userId), payload).catch((error) => {
      this.logger.warn({ err: error }, "presence publish failed");
    });
  }
}
