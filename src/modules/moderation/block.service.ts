import type { EntityManager } from "@mikro-orm/postgresql";
import type { RequestScope } from "../../request-scope";
import { BadUserInputError } from "../../core/errors";
import { assertUserId } from "../../core/ids";
import { Topic, type PubSub } from "../../core/pubsub";
import type { RateLimiters } from "../../core/rate-limit";
import { User } from "../users/user.entity";
import { executeWithUser } from "../users/user.queries";
import { Block } from "./block.entity";

/** Published to both users' block topics so open presence streams drop each other at once. */
export interface BlockEvent {
  userIds: [string, string];
  blocked: boolean;
}

export class BlockService {
  constructor(
    private readonly pubsub: PubSub,
    private readonly limiters: RateLimiters,
  ) {}

  /**
   * Any well-formed id, whether or not that user has signed in here yet: the answer never tells
   * which, and a block of someone who signs in later holds from their first request. A user known
   * only by id gets a bare row, as when someone starts a conversation with them. Counted by the
   * block rate limit: each block notifies the other user's streams and may write a row.
   */
  async block(ctx: RequestScope, userId: string): Promise<boolean> {
    const viewer = ctx.requireViewer();
    const target = this.target(ctx, userId);
    await this.limiters.consume("blocks", viewer.id);
    // One statement with the target's bare app_user row (the users module writes that table).
    await executeWithUser(
      ctx.em,
      target,
      `insert into block (blocker_id, blocked_id) values (?, ?) on conflict do nothing`,
      [viewer.id, target],
    );
    await this.publish(viewer.id, target, true);
    return true;
  }

  async unblock(ctx: RequestScope, userId: string): Promise<boolean> {
    const viewer = ctx.requireViewer();
    const target = this.target(ctx, userId);
    await ctx.em.nativeDelete(Block, { blockerId: viewer.id, blockedId: target });
    await this.publish(viewer.id, target, false);
    return true;
  }

  /**
   * Newest first. Names only of users who share a conversation with the viewer now, as federation
   * resolves a User; anyone else is their id alone, as a user who never signed in here.
   */
  async blockedUsers(ctx: RequestScope): Promise<User[]> {
    const viewer = ctx.requireViewer();
    const rows = await ctx.em.find(
      Block,
      { blockerId: viewer.id },
      { orderBy: { createdAt: "desc" } },
    );
    return Promise.all(
      rows.map(async ({ blockedId: id }) =>
        (await ctx.loaders.contact.load(id))
          ? ctx.loaders.user.load(id)
          : Object.assign(new User(), { id }),
      ),
    );
  }

  /** Those of `others` with a block in either direction with userId. */
  async blockedWith(em: EntityManager, userId: string, others: string[]): Promise<Set<string>> {
    if (!others.length) return new Set();
    const rows = await em.execute<{ other: string }[]>(
      `select case when blocker_id = ? then blocked_id else blocker_id end as other from block
        where (blocker_id = ? and blocked_id in (select value from jsonb_array_elements_text(?::jsonb)))
           or (blocked_id = ? and blocker_id in (select value from jsonb_array_elements_text(?::jsonb)))`,
      [userId, userId, JSON.stringify(others), userId, JSON.stringify(others)],
    );
    return new Set(rows.map((r) => r.other));
  }

  private target(ctx: RequestScope, userId: string): string {
    const viewer = ctx.requireViewer();
    const id = assertUserId(userId, "userId");
    if (id === viewer.id) throw new BadUserInputError("userId", "You cannot block yourself");
    return id;
  }

  private async publish(a: string, b: string, blocked: boolean) {
    const event: BlockEvent = { userIds: [a, b], blocked };
    await Promise.all(
      [a, b].map((id) => this.pubsub.publish(Topic.blocks(id), event).catch(() => {})),
    );
  }
}
