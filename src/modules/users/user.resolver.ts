import { Authorized, Ctx, Query, Resolver } from "type-graphql";
import type { Context } from "../../context";
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
