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
    return ctx.loaders.user.load(viewer.id);
  }
}

@Resolver(() => Participant)
export class ParticipantResolver {
  @FieldResolver(() => User)
  user(@Root() participant: Participant, @Ctx() ctx: Context): Promise<User> {
    return ctx.loaders.user.load(participant.userId);
  }
}
