import { UniqueConstraintViolationException } from "@mikro-orm/core";
import type { RequestScope } from "../../request-scope";
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
import { assertStorable, optionalText } from "../../core/validation";
import { MODERATOR_ROLE, type Viewer } from "../auth/viewer";
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
   * Reports a message the reporter can read now, or a user who shares a conversation with them
   * now (NOT_FOUND otherwise). One open report per reporter and target: asking again returns it,
   * uncounted. Anything else costs a rate-limit point, a refusal as much as a new report, so
   * probing who is whose contact is not free.
   */
  async report(ctx: RequestScope, input: ReportInput): Promise<Report> {
    const viewer = ctx.requireViewer();
    if ((input.messageId == null) === (input.userId == null)) {
      throw new BadUserInputError("messageId", "Pass exactly one of messageId and userId");
    }
    const details = optionalText(input.details, "details", 1000);
    if (details) assertStorable(details, "details");
    const target = await this.visibleTarget(ctx, input);
    const existing = target && (await this.openReport(ctx, viewer.id, target));
    if (existing) return existing;
    // Counted before a refusal too: asking whether someone is a contact costs as much as reporting.
    await this.limiters.consume("reports", viewer.id);
    if (!target) throw new NotFoundError(input.messageId != null ? "Message" : "User");
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

  async list(ctx: RequestScope, args: ReportsArgs): Promise<Page<Report>> {
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

  async resolve(ctx: RequestScope, id: string, status: ReportStatus): Promise<Report> {
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

  private async visibleTarget(
    ctx: RequestScope,
    input: ReportInput,
  ): Promise<{ messageId: string } | { reportedUserId: string } | null> {
    if (input.messageId != null) {
      const messageId = await this.visibleMessage(ctx, input.messageId);
      return messageId ? { messageId } : null;
    }
    const reportedUserId = await this.visibleUser(ctx, input.userId!);
    return reportedUserId ? { reportedUserId } : null;
  }

  /** The message's id if the viewer is a current participant of its conversation, else null. */
  private async visibleMessage(ctx: RequestScope, id: string): Promise<string | null> {
    const messageId = assertUuid(id, "messageId");
    const message = await ctx.loaders.message.load(messageId);
    if (!message || !(await ctx.loaders.membership.load(message.conversationId))) return null;
    return message.id;
  }

  /** The user's id if they and the viewer are current participants of a conversation, else null. */
  private async visibleUser(ctx: RequestScope, id: string): Promise<string | null> {
    const viewer = ctx.requireViewer();
    const userId = assertUserId(id, "userId");
    if (userId === viewer.id) throw new BadUserInputError("userId", "You cannot report yourself");
    return (await ctx.loaders.contact.load(userId)) ? userId : null;
  }

  private openReport(
    ctx: RequestScope,
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
