import { UniqueConstraintViolationException } from "@mikro-orm/core";
import type { EntityManager } from "@mikro-orm/postgresql";
import type { Context } from "../../context";
import type { Config } from "../../config";
import { BadUserInputError, NotFoundError } from "../../core/errors";
import { assertUserId, assertUuid } from "../../core/ids";
import { decodeCursor, encodeCursor, pageSize, toPage, type Page } from "../../core/pagination";
import type { PubSub } from "../../core/pubsub";
import { Topic } from "../../core/pubsub";
import type { Logger } from "../../core/logger";
import { assertNoNul, likePattern, optionalText } from "../../core/validation";
import type { UserService } from "../users/user.service";
import type { ConversationsArgs } from "./conversation.args";
import { Conversation } from "./conversation.entity";
import { ConversationKind, ParticipantRole } from "./conversation.enums";
import type { CreateConversationInput } from "./conversation.input";
import type { MembershipEvent } from "./conversation.stream";
import { Participant } from "./participant.entity";

const ACTIVITY_TAG = "activity";

export class ConversationService {
  constructor(
    private readonly config: Readonly<Config>,
    private readonly pubsub: PubSub,
    private readonly users: UserService,
    private readonly logger: Logger,
  ) {}

  /** The conversation if the viewer is a current participant; NOT_FOUND otherwise, never a hint. */
  async require(ctx: Context, id: string, field = "id"): Promise<Conversation> {
    ctx.requireViewer();
    const conversationId = assertUuid(id, field);
    const [membership, conversation] = await Promise.all([
      ctx.loaders.membership.load(conversationId),
      ctx.loaders.conversation.load(conversationId),
    ]);
    if (!membership || !conversation) throw new NotFoundError("Conversation");
    return conversation;
  }

  /** The viewer's conversations, most recent activity first. */
  async list(ctx: Context, args: ConversationsArgs): Promise<Page<Conversation>> {
    const viewer = ctx.requireViewer();
    const limit = pageSize(args.first, "first", this.config.limits);
    const params: unknown[] = [viewer.id];
    let where = "";
    if (args.after != null) {
      const [at, id] = decodeActivityCursor(args.after);
      where += " and (c.last_activity_at, c.id) < (?, ?)";
      params.push(at, id);
    }
    const search = optionalText(args.search, "search", 200);
    if (search) {
      assertNoNul(search, "search");
      const pattern = likePattern(search);
      where += ` and (c.title ilike ? or c.subject ilike ? or exists (
        select 1 from participant p2 join app_user u on u.id = p2.user_id
         where p2.conversation_id = c.id and p2.left_at is null and u.display_name ilike ?))`;
      params.push(pattern, pattern, pattern);
    }
    params.push(limit + 1);
    const rows = await ctx.em.execute(
      `select c.* from participant p join conversation c on c.id = p.conversation_id
        where p.user_id = ? and p.left_at is null${where}
        order by c.last_activity_at desc, c.id desc limit ?`,
      params,
    );
    const items = rows.slice(0, limit).map((row) => ctx.em.map(Conversation, row));
    for (const item of items) ctx.loaders.conversation.prime(item.id, item);
    return toPage(items, activityCursor, args.after != null, rows.length > limit);
  }

  /**
   * DIRECT: exactly one other user, unique per (pair, subject); asking again returns the existing
   * conversation. GROUP: the viewer becomes OWNER of the others.
   */
  async create(ctx: Context, input: CreateConversationInput): Promise<Conversation> {
    const viewer = ctx.requireViewer();
    const { limits } = this.config;
    if (input.participantIds.length > limits.groupMaxMembers) {
      throw new BadUserInputError(
        "participantIds",
        `A conversation has at most ${limits.groupMaxMembers} members`,
      );
    }
    const others = [
      ...new Set(input.participantIds.map((id) => assertUserId(id, "participantIds"))),
    ].filter((id) => id !== viewer.id);
    const subject = optionalText(input.subject, "subject", limits.subjectMaxLength);
    const title = optionalText(input.title, "title", limits.titleMaxLength);
    if (subject) assertNoNul(subject, "subject");
    if (title) assertNoNul(title, "title");

    let directKey: string | null = null;
    if (input.kind === ConversationKind.DIRECT) {
      if (others.length !== 1) {
        throw new BadUserInputError(
          "participantIds",
          "A DIRECT conversation has exactly one other participant",
        );
      }
      if (title) throw new BadUserInputError("title", "A DIRECT conversation has no title");
      directKey = JSON.stringify([...[viewer.id, others[0]].sort(), subject]);
      const existing = await this.findDirect(ctx.em, directKey);
      if (existing) return existing;
    } else if (others.length + 1 > limits.groupMaxMembers) {
      throw new BadUserInputError(
        "participantIds",
        `A conversation has at most ${limits.groupMaxMembers} members`,
      );
    }

    let conversation: Conversation;
    try {
      conversation = await ctx.em.transactional(async (em) => {
        await this.users.ensureUsersExist(em, others);
        const created = em.create(Conversation, { kind: input.kind, title, subject, directKey });
        const ownerRole =
          input.kind === ConversationKind.GROUP ? ParticipantRole.OWNER : ParticipantRole.MEMBER;
        em.create(Participant, { conversationId: created.id, userId: viewer.id, role: ownerRole });
        for (const userId of others) {
          em.create(Participant, {
            conversationId: created.id,
            userId,
            role: ParticipantRole.MEMBER,
          });
        }
        return created;
      });
    } catch (error) {
      // Two first messages between the same pair raced: the other request created it.
      if (directKey && error instanceof UniqueConstraintViolationException) {
        const existing = await this.findDirect(ctx.em.fork(), directKey);
        if (existing) return existing;
      }
      throw error;
    }
    await this.publishMembership([viewer.id, ...others], {
      type: "joined",
      conversationId: conversation.id,
      sinceSeq: 0,
    });
    return conversation;
  }

  private async findDirect(em: EntityManager, directKey: string): Promise<Conversation | null> {
    return em.findOne(Conversation, { directKey });
  }

  /** After commit; a lost publish is recovered by clients resuming with afterSeq, so only log it. */
  async publishMembership(userIds: string[], event: MembershipEvent): Promise<void> {
    await Promise.all(
      userIds.map((userId) =>
        this.pubsub.publish(Topic.membership(userId), event).catch((error: unknown) => {
          this.logger.warn({ err: error, userId }, "membership publish failed");
        }),
      ),
    );
  }
}

function activityCursor(conversation: Conversation): string {
  return encodeCursor(
    ACTIVITY_TAG,
    `${conversation.lastActivityAt.toISOString()}|${conversation.id}`,
  );
}

function decodeActivityCursor(cursor: string): [Date, string] {
  const [iso, id] = decodeCursor(cursor, ACTIVITY_TAG, "after").split("|");
  const at = new Date(iso);
  if (Number.isNaN(at.getTime()) || !id)
    throw new BadUserInputError("after", "after is not a valid cursor");
  return [at, assertUuid(id, "after")];
}
