import {
  Arg,
  Args,
  ArgsType,
  Authorized,
  Ctx,
  Field,
  FieldResolver,
  ID,
  Query,
  Resolver,
  Root,
  Subscription,
  type SubscribeResolverData,
} from "type-graphql";
import type { Context } from "../../context";
import { EventSource } from "../../core/async-queue";
import { BadUserInputError } from "../../core/errors";
import { assertUserId } from "../../core/ids";
import { User } from "../users/user.entity";
import { Presence } from "./presence.type";

const MAX_USER_IDS = 100;

function userIdList(userIds: string[]): string[] {
  if (userIds.length > MAX_USER_IDS) {
    throw new BadUserInputError("userIds", `At most ${MAX_USER_IDS} user ids`);
  }
  return [...new Set(userIds.map((id) => assertUserId(id, "userIds")))];
}

@ArgsType()
class PresenceArgs {
  @Field(() => [ID], {
    nullable: true,
    description: "Without it: everyone who shares a conversation with the viewer.",
  })
  userIds?: string[] | null;
}

@Resolver(() => User)
export class PresenceResolver {
  @Authorized()
  @Query(() => [Presence], {
    description: "Up to 100 users; those who share no conversation with the viewer read OFFLINE.",
  })
  async presence(
    @Arg("userIds", () => [ID]) userIds: string[],
    @Ctx() ctx: Context,
  ): Promise<Presence[]> {
    const ids = userIdList(userIds);
    return Promise.all(ids.map((id) => ctx.loaders.presence.load(id)));
  }

  @FieldResolver(() => Presence, { name: "presence" })
  userPresence(@Root() user: User, @Ctx() ctx: Context): Promise<Presence> {
    return ctx.loaders.presence.load(user.id);
  }

  @Subscription(() => Presence, {
    name: "presence",
    description:
      "The current status of the given users, then their changes (default: everyone sharing a conversation, starting with those ONLINE now).",
    subscribe: async ({ args, context }: SubscribeResolverData<unknown, PresenceArgs, Context>) => {
      const viewer = context.requireViewer();
      const ids = args.userIds != null ? userIdList(args.userIds) : null;
      const stream = await context.services.presence.subscribe(viewer.id, ids);
      return new EventSource(stream, { renew: () => context.renew() });
    },
  })
  presenceChanged(@Root() presence: Presence, @Args() _args: PresenceArgs): Presence {
    return presence;
  }
}
