import { createPubSub, type PubSub } from "../../src/core/pubsub";
import { ConversationFeeds, audienceFeed, type MembershipChange } from "../../src/core/feed";
import { UnavailableError } from "../../src/core/errors";
import { createLogger } from "../../src/core/logger";

/**
 * The feed machinery's own bookkeeping, on the in-process bus: a subscription that cannot be set
 * up leaves nothing listening behind it.
 */
const logger = createLogger("silent");
const viewer = { id: "ana", displayName: "Ana", roles: [], expiresAt: Date.now() + 3_600_000 };
const conversationId = "7f1d1d6e-0000-4000-8000-000000000001";

class Feeds extends ConversationFeeds {
  async lastSeq(): Promise<number | null> {
    return 0;
  }
  protected async memberships(): Promise<Map<string, number>> {
    return new Map([[conversationId, 0]]);
  }
  protected watchMembership(
    viewerId: string,
    listener: (change: MembershipChange) => void,
  ): Promise<() => void> {
    return this.pubsub.subscribe(`user:${viewerId}:membership`, (event) =>
      listener(event as MembershipChange),
    );
  }
}

/** The bus, with the topics listened to counted and one topic's subscription failing. */
function countingBus(bus: PubSub, failing: string) {
  const listening = new Map<string, number>();
  const counted: PubSub = {
    ...bus,
    async subscribe(topic, listener) {
      if (topic === failing) throw new UnavailableError("Redis");
      const unsubscribe = await bus.subscribe(topic, listener);
      listening.set(topic, (listening.get(topic) ?? 0) + 1);
      return () => {
        listening.set(topic, listening.get(topic)! - 1);
        unsubscribe();
      };
    },
  };
  return { counted, listening };
}

describe("conversation feeds", () => {
  it("releases the membership subscription when the conversation's cannot be made", async () => {
    const bus = await createPubSub(null, "", logger);
    const failing = `conversation:${conversationId}:events`;
    const { counted, listening } = countingBus(bus, failing);
    const feeds = new Feeds(counted, logger);
    await expect(
      feeds.open(viewer, {
        conversationId,
        topic: () => failing,
        feed: audienceFeed(feeds, () => null),
      }),
    ).rejects.toThrow(UnavailableError);
    expect(listening.get("user:ana:membership")).toBe(0);
    await bus.close();
  });
});
