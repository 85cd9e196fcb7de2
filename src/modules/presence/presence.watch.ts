import type { MikroORM } from "@mikro-orm/postgresql";
import { AsyncQueue } from "../../core/async-queue";
import type { Logger } from "../../core/logger";
import { Topic, type PubSub } from "../../core/pubsub";
import type { PresenceStore } from "./presence.store";
import { Presence, PresenceStatus, type PresencePayload } from "./presence.type";
import { contacts, visibleUsers } from "./presence.visibility";

export interface PresenceWatchDeps {
  orm: MikroORM;
  pubsub: PubSub;
  store: PresenceStore;
  logger: Logger;
}

/**
 * One `presence` subscription. It starts with the current status of the users it names (or of
 * the viewer's contacts who are ONLINE), then delivers their changes. Who is visible is read
 * again whenever the viewer's conversations or blocks change: a user who stops being visible
 * reads OFFLINE and sends nothing more, one who becomes visible starts with their status.
 */
export class PresenceWatch {
  readonly queue: AsyncQueue<Presence>;
  private readonly listening = new Map<string, () => void>();
  private readonly viewerTopics: Array<() => void> = [];
  /** The status last delivered per user: a change is delivered once, whoever announces it. */
  private readonly told = new Map<string, PresenceStatus>();
  /** Events that arrive while visibility is being read, with the tick they arrived at. */
  private held: Array<{ tick: number; event: PresencePayload }> | null = [];
  private tick = 0;
  private checking: Promise<void> | null = null;
  private again = false;

  private constructor(
    private readonly deps: PresenceWatchDeps,
    private readonly viewerId: string,
    /** null: every contact of the viewer, as their conversations change. */
    private readonly userIds: readonly string[] | null,
  ) {
    this.queue = new AsyncQueue<Presence>(() => this.close());
  }

  static async open(
    deps: PresenceWatchDeps,
    viewerId: string,
    userIds: readonly string[] | null,
  ): Promise<PresenceWatch> {
    const watch = new PresenceWatch(deps, viewerId, userIds);
    try {
      // Conversation changes reach each member's conversationUpdated topic; blocks their own.
      for (const topic of [Topic.conversationUpdated(viewerId), Topic.blocks(viewerId)]) {
        watch.viewerTopics.push(await deps.pubsub.subscribe(topic, () => watch.recheck()));
      }
      await watch.refresh(true);
    } catch (error) {
      await watch.queue.return();
      throw error;
    }
    return watch;
  }

  private recheck(): void {
    if (this.queue.isClosed) return;
    this.held ??= [];
    if (this.checking) {
      this.again = true;
      return;
    }
    this.checking = (async () => {
      do {
        this.again = false;
        await this.refresh(false);
      } while (this.again && !this.queue.isClosed);
    })()
      .catch((error: unknown) => {
        // Without a visibility check the stream cannot go on safely: the client resubscribes.
        this.deps.logger.warn({ err: error, userId: this.viewerId }, "presence recheck failed");
        this.queue.end(error);
      })
      .finally(() => {
        this.checking = null;
      });
  }

  private async refresh(initial: boolean): Promise<void> {
    const em = this.deps.orm.em.fork();
    const ids = this.userIds ?? (await contacts(em, this.viewerId));
    const visible = await visibleUsers(em, this.viewerId, ids);
    if (this.queue.isClosed) return;
    for (const [userId, unsubscribe] of [...this.listening]) {
      if (visible.has(userId)) continue;
      unsubscribe();
      this.listening.delete(userId);
      // What the presence query now answers for them.
      this.deliver({ userId, status: PresenceStatus.OFFLINE, lastSeenAt: null });
    }
    const added = [...visible.keys()].filter((userId) => !this.listening.has(userId));
    await Promise.all(
      added.map(async (userId) => {
        const unsubscribe = await this.deps.pubsub.subscribe(Topic.presence(userId), (raw) =>
          this.onEvent(raw as PresencePayload),
        );
        if (this.queue.isClosed) unsubscribe();
        else this.listening.set(userId, unsubscribe);
      }),
    );
    if (this.queue.isClosed) return;
    const readAt = this.tick;
    const online = added.length
      ? await this.deps.store.online(added, Date.now())
      : new Set<string>();
    if (initial && this.userIds) {
      for (const userId of this.userIds) {
        if (!visible.has(userId)) {
          this.deliver({ userId, status: PresenceStatus.OFFLINE, lastSeenAt: null });
        }
      }
    }
    for (const userId of added) {
      if (online.has(userId)) {
        this.deliver({ userId, status: PresenceStatus.ONLINE, lastSeenAt: null });
      } else if (this.userIds) {
        const lastSeenAt = visible.get(userId);
        this.deliver({
          userId,
          status: PresenceStatus.OFFLINE,
          lastSeenAt: lastSeenAt ? lastSeenAt.toISOString() : null,
        });
      } else {
        this.told.set(userId, PresenceStatus.OFFLINE);
      }
    }
    // Changes that arrived before the status was read are in it already.
    const held = this.held ?? [];
    this.held = null;
    const snapshot = new Set(added);
    for (const { tick, event } of held) {
      if (tick <= readAt && snapshot.has(event.userId)) continue;
      if (this.listening.has(event.userId)) this.deliver(event);
    }
  }

  private onEvent(event: PresencePayload): void {
    if (this.queue.isClosed || !this.listening.has(event.userId)) return;
    this.tick += 1;
    if (this.held) this.held.push({ tick: this.tick, event });
    else this.deliver(event);
  }

  private deliver(event: PresencePayload): void {
    if (this.told.get(event.userId) === event.status) return;
    this.told.set(event.userId, event.status);
    this.queue.push({
      userId: event.userId,
      status: event.status,
      lastSeenAt: event.lastSeenAt ? new Date(event.lastSeenAt) : null,
    });
  }

  private close(): void {
    for (const unsubscribe of this.viewerTopics.splice(0)) unsubscribe();
    for (const unsubscribe of this.listening.values()) unsubscribe();
    this.listening.clear();
  }
}
