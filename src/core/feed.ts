import { AsyncQueue } from "./async-queue";
import { NotFoundError } from "./errors";
import type { Logger } from "./logger";
import type { PubSub } from "./pubsub";
import type { Viewer } from "../modules/auth/viewer";

/** Every conversation event carries the users it may reach, fixed when its change committed. */
export interface AudienceEvent {
  audience: string[];
}

/** The viewer joined or left a conversation. */
export interface MembershipChange {
  type: "joined" | "left";
  conversationId: string;
  /** For "joined": conversation events after this seq are the new member's to receive. */
  sinceSeq: number;
}

/** The delivery of one conversation's events to one subscriber. */
export interface Feed {
  readonly conversationId: string;
  /** Called once the subscription listens: startSeq is where the client stands, upTo the newest seq. */
  start(startSeq: number, upTo: number): void;
  onLive(event: unknown): void;
  stop(): void;
}

export interface FeedContext<T> {
  conversationId: string;
  viewerId: string;
  sink: Pick<AsyncQueue<T>, "push" | "room">;
  /** Ends this conversation's delivery: the viewer is no longer a participant. */
  revoke: () => void;
}

export type FeedFactory<T> = (context: FeedContext<T>) => Feed;

export interface StreamOptions<T> {
  /** One conversation, or null for every conversation the viewer is in, as membership changes. */
  conversationId: string | null;
  topic: (conversationId: string) => string;
  feed: FeedFactory<T>;
  /** Where a one-conversation client stands; null means "from now". */
  afterSeq?: number | null;
  /** Called with where the conversation stands, before listening; may refuse the request. */
  check?: (startSeq: number) => void;
}

/**
 * Opens subscriptions to conversation events with the authorisation every one of them needs: only
 * current participants, checked when the subscription opens, on every event (its audience) and
 * on membership changes (a removed member's open subscriptions stop at once). Who is in which
 * conversation, and where it stands, the subclass reads.
 */
export abstract class ConversationFeeds {
  private readonly audiences = new WeakMap<object, Set<string>>();

  constructor(
    protected readonly pubsub: PubSub,
    readonly logger: Logger,
  ) {}

  /** The conversation's newest seq if the viewer is a current participant, else null. */
  abstract lastSeq(viewerId: string, conversationId: string): Promise<number | null>;

  /** The newest seq of every conversation the viewer is currently in. */
  protected abstract memberships(viewerId: string): Promise<Map<string, number>>;

  /** Listens to the viewer's joins and leaves; resolves to the unsubscribe. */
  protected abstract watchMembership(
    viewerId: string,
    listener: (change: MembershipChange) => void,
  ): Promise<() => void>;

  /** The audience of an event as a Set, computed once however many local subscribers share it. */
  audienceOf(event: AudienceEvent): Set<string> {
    let audience = this.audiences.get(event);
    if (!audience) {
      audience = new Set(event.audience);
      this.audiences.set(event, audience);
    }
    return audience;
  }

  open<T>(viewer: Viewer, options: StreamOptions<T>): Promise<AsyncQueue<T>> {
    return options.conversationId !== null
      ? this.one(viewer, options.conversationId, options)
      : this.all(viewer, options);
  }

  private async one<T>(viewer: Viewer, conversationId: string, options: StreamOptions<T>) {
    // Where the conversation stood when the client asked: everything after it is delivered.
    const startSeq = await this.lastSeq(viewer.id, conversationId);
    if (startSeq === null) throw new NotFoundError("Conversation");
    options.check?.(startSeq);
    const unsubscribes: Array<() => void> = [];
    const queue = new AsyncQueue<T>(() => {
      feed.stop();
      for (const unsubscribe of unsubscribes) unsubscribe();
    });
    const feed = options.feed({
      conversationId,
      viewerId: viewer.id,
      sink: queue,
      revoke: () => queue.end(),
    });
    try {
      // One at a time: each is released on a failure of the next.
      unsubscribes.push(
        await this.watchMembership(viewer.id, (change) => {
          if (change.type === "left" && change.conversationId === conversationId) queue.end();
        }),
      );
      unsubscribes.push(
        await this.pubsub.subscribe(options.topic(conversationId), (event) => feed.onLive(event)),
      );
      // Events committed while the subscription was being set up are read from the database.
      const upTo = await this.lastSeq(viewer.id, conversationId);
      if (upTo === null) throw new NotFoundError("Conversation");
      feed.start(options.afterSeq ?? startSeq, upTo);
    } catch (error) {
      await queue.return();
      throw error;
    }
    return queue;
  }

  private async all<T>(viewer: Viewer, options: StreamOptions<T>) {
    const feeds = new Map<string, { feed: Feed; unsubscribe: () => void }>();
    let unsubscribeMembership = () => {};
    const queue = new AsyncQueue<T>(() => {
      unsubscribeMembership();
      for (const id of [...feeds.keys()]) detach(id);
    });

    const attach = async (conversationId: string): Promise<Feed | null> => {
      if (feeds.has(conversationId)) return null;
      const feed = options.feed({
        conversationId,
        viewerId: viewer.id,
        sink: queue,
        revoke: () => detach(conversationId),
      });
      const entry = { feed, unsubscribe: () => {} };
      feeds.set(conversationId, entry);
      const unsubscribe = await this.pubsub.subscribe(options.topic(conversationId), (event) =>
        feed.onLive(event),
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

    // Membership changes wait for the initial listing, then apply in order.
    let membershipChain: Promise<unknown> = Promise.resolve();
    let ready!: () => void;
    const initialised = new Promise<void>((resolve) => (ready = resolve));
    const onMembership = async (change: MembershipChange) => {
      if (queue.isClosed) return;
      if (change.type === "left") return detach(change.conversationId);
      const feed = await attach(change.conversationId);
      if (!feed) return;
      const upTo = await this.lastSeq(viewer.id, change.conversationId);
      if (upTo === null) return detach(change.conversationId);
      feed.start(Math.min(change.sinceSeq, upTo), upTo);
    };
    try {
      unsubscribeMembership = await this.watchMembership(viewer.id, (change) => {
        membershipChain = membershipChain
          .then(() => initialised)
          .then(() => onMembership(change))
          .catch((error: unknown) => this.logger.error({ err: error }, "membership event failed"));
      });
      // Read where each conversation stands, listen, then read again: the difference is replayed.
      const before = await this.memberships(viewer.id);
      const attached = await Promise.all([...before.keys()].map((id) => attach(id)));
      const after = await this.memberships(viewer.id);
      for (const feed of attached) {
        if (!feed) continue;
        const upTo = after.get(feed.conversationId);
        if (upTo === undefined) detach(feed.conversationId);
        else feed.start(before.get(feed.conversationId)!, upTo);
      }
    } catch (error) {
      await queue.return();
      throw error;
    } finally {
      ready();
    }
    return queue;
  }
}

/**
 * A feed for events that need no ordering or replay (edits, receipts, typing): each live event is
 * delivered if the viewer is in its audience; an event without the viewer means they were removed.
 */
export function audienceFeed<E extends AudienceEvent, T>(
  feeds: ConversationFeeds,
  decode: (event: E, viewerId: string) => T | null,
): FeedFactory<T> {
  return ({ conversationId, viewerId, sink, revoke }) => {
    let stopped = false;
    let started = false;
    const early: E[] = [];
    const deliver = (event: E) => {
      if (!feeds.audienceOf(event).has(viewerId)) {
        stopped = true;
        return revoke();
      }
      const value = decode(event, viewerId);
      if (value !== null) sink.push(value);
    };
    return {
      conversationId,
      start() {
        started = true;
        for (const event of early.splice(0)) if (!stopped) deliver(event);
      },
      onLive(event) {
        if (stopped) return;
        if (started) deliver(event as E);
        else early.push(event as E);
      },
      stop() {
        stopped = true;
      },
    };
  };
}
