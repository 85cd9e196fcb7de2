import { Authorized, Ctx, FieldResolver, Query, Resolver, Root } from "type-graphql";
import type { Context } from "../../context";
import { Participant } from "../conversations/participant.entity";
import { User } from "./user.entity";

@Resolver(() => User)
export class UserResolver {
  @Authorized()
  @Query(() => User, { description: "The viewer, as identified by the access token." })
  async me(@Ctx() ctx: Context): Promise<User> {
    const viewer = ctx.requireViewer();
    const user = await ctx.loaders.user.load(viewer.id);
    return user ?? Object.assign(new User(), { id: viewer.id, displayName: viewer.displayName });
  }
}

@Resolver(() => Participant)
export class ParticipantResolver {
  @FieldResolver(() => User)
  async user(@Root() participant: Participant, @Ctx() ctx: Context): Promise<User> {
    const user = await ctx.loaders.user.load(participant.userId);
    return user ?? Object.assign(new User(), { id: participant.userId });
  }
}
