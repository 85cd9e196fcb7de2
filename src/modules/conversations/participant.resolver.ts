import { Ctx, FieldResolver, Resolver, Root } from "type-graphql";
import type { Context } from "../../context";
import { User } from "../users/user.entity";
import { Participant } from "./participant.entity";

@Resolver(() => Participant)
export class ParticipantResolver {
  @FieldResolver(() => User)
  user(@Root() participant: Participant, @Ctx() ctx: Context): Promise<User> {
    return ctx.loaders.user.load(participant.userId);
  }
}
