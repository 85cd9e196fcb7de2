import { UniqueConstraintViolationException } from "@mikro-orm/core";
import type { Context } from "../../context";
import type { Config } from "../../config";
import { BadUserInputError, ForbiddenError, NotFoundError } from "../../core/errors";
import { assertUserId, assertUuid } from "../../core/ids";
import {
  decodeTimeIdCursor,
  encodeTimeIdCursor,
  pageSize,
  toPage,
  type Page,
} from "../../core/pagination";
import type { RateLimiters } from "../../core/rate-limit";
import { assertNoNul, optionalText } from "../../core/validation";
import { MODERATOR_ROLE, type Viewer } from "../auth/viewer";
import { Message } from "../messages/message.entity";
import { ReportStatus } from "./report.enums";
import { Report } from "./report.entity";
import type { ReportInput, ReportsArgs } from "./report.input";

const REPORT_TAG = "report";

export class ReportService {
  constructor(
    private readonly config: Readonly<Config>,
    private readonly limiters: RateLimiters,
  ) {}

  /**
   * Reports a message the reporter can read, or a user who shares a conversation with them
   * (NOT_FOUND otherwise). One open report per reporter and target: asking again returns it.
   */
  async report(ctx: Context, input: ReportInput): Promise<Report> {
    const viewer = ctx.requireViewer();
    if ((input.messageId == null) === (input.userId == null)) {
      throw new BadUserInputError("messageId", "Pass exactly one of messageId and userId");
    }
    const details = optionalText(input.details, "details", 1000);
    if (details) assertNoNul(details, "details");
    const target =
      input.messageId != null
        ? { messageId: await this.visibleMessage(ctx, input.messageId) }
        : { reportedUserId: await this.visibleUser(ctx, input.userId!) };
    const existing = await this.openReport(ctx, viewer.id, target);
    if (existing) return existing;
    await this.limiters.consume("reports", viewer.id);
    try {
      const report = ctx.em.create(Report, {
        reporterId: viewer.id,
        reason: input.reason,
        details,
        ...target,
      });
      await ctx.em.flush();
      return report;
    } catch (error) {
      // The same report submitted twice at once: the first one stands.
      if (error instanceof UniqueConstraintViolationException) {
        const winner = await this.openReport(ctx, viewer.id, target, true);
        if (winner) return winner;
      }
      throw error;
    }
  }

  async list(ctx: Context, args: ReportsArgs): Promise<Page<Report>> {
    requireModerator(ctx.requireViewer());
    const limit = pageSize(args.first, "first", this.config.limits);
    const where: Record<string, unknown> = {};
    if (args.status) where.status = args.status;
    if (args.after != null) {
      const [at, id] = decodeTimeIdCursor(args.after, REPORT_TAG, "after");
      where.$or = [{ createdAt: { $lt: at } }, { createdAt: at, id: { $lt: id } }];
    }
    const rows = await ctx.em.find(Report, where, {
      orderBy: { createdAt: "desc", id: "desc" },
      limit: limit + 1,
    });
    return toPage(
      rows.slice(0, limit),
      (r) => encodeTimeIdCursor(REPORT_TAG, r.createdAt, r.id),
      args.after != null,
      rows.length > limit,
    );
  }

  async resolve(ctx: Context, id: string, status: ReportStatus): Promise<Report> {
    const viewer = ctx.requireViewer();
    requireModerator(viewer);
    if (status === ReportStatus.OPEN) {
      throw new BadUserInputError("status", "Resolve to RESOLVED or DISMISSED");
    }
    const report = await ctx.em.findOne(Report, { id: assertUuid(id, "id") });
    if (!report) throw new NotFoundError("Report");
    report.status = status;
    report.resolvedBy = viewer.id;
    report.resolvedAt = new Date();
    await ctx.em.flush();
    return report;
  }

  private async visibleMessage(ctx: Context, id: string): Promise<string> {
    const messageId = assertUuid(id, "messageId");
    const message = await ctx.em.findOne(Message, { id: messageId });
    if (!message || !(await ctx.loaders.membership.load(message.conversationId))) {
      throw new NotFoundError("Message");
    }
    return message.id;
  }

  private async visibleUser(ctx: Context, id: string): Promise<string> {
    const viewer = ctx.requireViewer();
    const userId = assertUserId(id, "userId");
    if (userId === viewer.id) throw new BadUserInputError("userId", "You cannot report yourself");
    const rows = await ctx.em.execute(
      `select 1 from participant mine
         join participant theirs on theirs.conversation_id = mine.conversation_id
        where mine.user_id = ? and theirs.user_id = ? limit 1`,
      [viewer.id, userId],
    );
    if (!rows.length) throw new NotFoundError("User");
    return userId;
  }

  private openReport(
    ctx: Context,
    reporterId: string,
    target: { messageId?: string; reportedUserId?: string },
    fresh = false,
  ): Promise<Report | null> {
    const em = fresh ? ctx.em.fork() : ctx.em;
    return em.findOne(Report, { reporterId, status: ReportStatus.OPEN, ...target });
  }
}

export function requireModerator(viewer: Viewer): void {
  if (!viewer.roles.includes(MODERATOR_ROLE)) throw new ForbiddenError("Moderators only");
}
