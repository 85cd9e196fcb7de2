import type { EntityManager } from "@mikro-orm/postgresql";
import type { Context } from "../../context";
import { BadUserInputError } from "../../core/errors";
import { assertUserId } from "../../core/ids";
import { Topic, type PubSub } from "../../core/pubsub";
import { User } from "../users/user.entity";
import { Block } from "./block.entity";

/** Published to both users' block topics so open presence streams drop each other at once. */
export interface BlockEvent {
  userIds: [string, string];
  blocked: boolean;
}

export class BlockService {
  constructor(private readonly pubsub: PubSub) {}

  async block(ctx: Context, userId: string): Promise<boolean> {
    const viewer = ctx.requireViewer();
    const target = await this.target(ctx, userId);
    await ctx.em.execute(
      `insert into block (blocker_id, blocked_id) values (?, ?) on conflict do nothing`,
      [viewer.id, target],
    );
    await this.publish(viewer.id, target, true);
    return true;
  }

  async unblock(ctx: Context, userId: string): Promise<boolean> {
    const viewer = ctx.requireViewer();
    const target = await this.target(ctx, userId);
    await ctx.em.nativeDelete(Block, { blockerId: viewer.id, blockedId: target });
    await this.publish(viewer.id, target, false);
    return true;
  }

  async blockedUsers(ctx: Context): Promise<User[]> {
    const viewer = ctx.requireViewer();
    const rows = await ctx.em.find(
      Block,
      { blockerId: viewer.id },
      { orderBy: { createdAt: "desc" } },
    );
    return Promise.all(rows.map((b) => ctx.loaders.user.load(b.blockedId)));
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

  private async target(ctx: Context, userId: string): Promise<string> {
    const viewer = ctx.requireViewer();
    const id = assertUserId(userId, "userId");
    if (id === viewer.id) throw new BadUserInputError("userId", "You cannot block yourself");
    if (!(await ctx.em.findOne(User, { id }))) {
      throw new BadUserInputError("userId", "No such user");
    }
    return id;
  }

  private async publish(a: string, b: string, blocked: boolean) {
    const event: BlockEvent = { userIds: [a, b], blocked };
    await Promise.all(
      [a, b].map((id) => this.pubsub.publish(Topic.blocks(id), event).catch(() => {})),
    );
  }
}
