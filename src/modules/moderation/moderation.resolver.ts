import {
  Arg,
  Args,
  Authorized,
  Ctx,
  FieldResolver,
  ID,
  Mutation,
  Query,
  Resolver,
  Root,
} from "type-graphql";
import type { Context } from "../../context";
import type { Page } from "../../core/pagination";
import { Message } from "../messages/message.entity";
import { User } from "../users/user.entity";
import { ReportStatus } from "./report.enums";
import { Report } from "./report.entity";
import { ReportInput, ReportsArgs } from "./report.input";
import { ReportConnection } from "./report.payload";
import { requireModerator } from "./report.service";

@Resolver(() => Report)
export class ModerationResolver {
  @Authorized()
  @Mutation(() => Boolean, {
    description:
      "Stops DIRECT messages and new DIRECT conversations between the two, and hides presence and typing both ways.",
  })
  blockUser(@Arg("userId", () => ID) userId: string, @Ctx() ctx: Context): Promise<boolean> {
    return ctx.services.blocks.block(ctx, userId);
  }

  @Authorized()
  @Mutation(() => Boolean)
  unblockUser(@Arg("userId", () => ID) userId: string, @Ctx() ctx: Context): Promise<boolean> {
    return ctx.services.blocks.unblock(ctx, userId);
  }

  @Authorized()
  @Query(() => [User], { description: "Users the viewer has blocked, newest first." })
  blockedUsers(@Ctx() ctx: Context): Promise<User[]> {
    return ctx.services.blocks.blockedUsers(ctx);
  }

  @Authorized()
  @Mutation(() => Report, {
    description:
      "Reports a message the viewer can read or a user they share a conversation with; repeating it returns the open report.",
  })
  report(
    @Arg("input", () => ReportInput) input: ReportInput,
    @Ctx() ctx: Context,
  ): Promise<Report> {
    return ctx.services.reports.report(ctx, input);
  }

  @Authorized()
  @Query(() => ReportConnection, { description: "Moderators only; newest first." })
  reports(@Args() args: ReportsArgs, @Ctx() ctx: Context): Promise<Page<Report>> {
    return ctx.services.reports.list(ctx, args);
  }

  @Authorized()
  @Mutation(() => Report, { description: "Moderators only: RESOLVED or DISMISSED." })
  resolveReport(
    @Arg("id", () => ID) id: string,
    @Arg("status", () => ReportStatus) status: ReportStatus,
    @Ctx() ctx: Context,
  ): Promise<Report> {
    return ctx.services.reports.resolve(ctx, id, status);
  }

  @FieldResolver(() => User)
  reporter(@Root() report: Report, @Ctx() ctx: Context): Promise<User> {
    return ctx.loaders.user.load(report.reporterId);
  }

  @FieldResolver(() => Message, {
    nullable: true,
    description: "The reported message; moderators see it whatever conversation it is in.",
  })
  async message(@Root() report: Report, @Ctx() ctx: Context): Promise<Message | null> {
    if (!report.messageId) return null;
    const viewer = ctx.requireViewer();
    if (report.reporterId !== viewer.id) requireModerator(viewer);
    return ctx.loaders.message.load(report.messageId);
  }

  @FieldResolver(() => User, { nullable: true })
  reportedUser(@Root() report: Report, @Ctx() ctx: Context): Promise<User> | null {
    return report.reportedUserId ? ctx.loaders.user.load(report.reportedUserId) : null;
  }
}
