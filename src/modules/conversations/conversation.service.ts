import { UniqueConstraintViolationException } from "@mikro-orm/core";
import type { EntityManager } from "@mikro-orm/postgresql";
import type { RequestScope } from "../../request-scope";
import type { Config } from "../../config";
import { BadUserInputError, BlockedError } from "../../core/errors";
import { assertUserId } from "../../core/ids";
import {
  decodeTimeIdCursor,
  encodeTimeIdCursor,
  pageSize,
  toPage,
  type Page,
} from "../../core/pagination";
import { assertNoNul, assertStorable, likePattern, optionalText } from "../../core/validation";
import type { Safety } from "../moderation/safety";
import type { UserService } from "../users/user.service";
import type { ConversationsArgs } from "./conversation.args";
import { Conversation } from "./conversation.entity";
import { ConversationKind, ParticipantRole } from "./conversation.enums";
import type { CreateConversationInput } from "./conversation.input";
import { findDirect, selectInbox } from "./conversation.queries";
import type { MembershipPublisher } from "./membership.publisher";
import { Participant } from "./participant.entity";
import { currentMembers, rejoin } from "./participant.queries";

const ACTIVITY_TAG = "activity";

export class ConversationService {
  constructor(
    private readonly config: Readonly<Config>,
    private readonly users: UserService,
    private readonly safety: Safety,
    private readonly membershipEvents: MembershipPublisher,
  ) {}

  /** The viewer's conversations, most recent activity first. */
  async list(ctx: RequestScope, args: ConversationsArgs): Promise<Page<Conversation>> {
    const viewer = ctx.requireViewer();
    const limit = pageSize(args.first, "first", this.config.limits);
    const after = args.after != null ? decodeTimeIdCursor(args.after, ACTIVITY_TAG, "after") : null;
    const search = optionalText(args.search, "search", 200);
    if (search) assertNoNul(search, "search");
    const pattern = search ? likePattern(search) : null;
    const { items, more } = await selectInbox(ctx.em, viewer.id, { after, pattern, limit });
    for (const item of items) ctx.loaders.conversation.prime(item.id, item);
    return toPage(items, activityCursor, args.after != null, more);
  }

  /**
   * DIRECT: exactly one other user, unique per (pair, subject); asking again returns the existing
   * conversation. GROUP: the viewer becomes OWNER of the others.
   */
  async create(ctx: RequestScope, input: CreateConversationInput): Promise<Conversation> {
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
    if (subject) assertStorable(subject, "subject");
    if (title) assertStorable(title, "title");

    let directKey: string | null = null;
    if (input.kind === ConversationKind.DIRECT) {
      if (others.length !== 1) {
        throw new BadUserInputError(
          "participantIds",
          "A DIRECT conversation has exactly one other participant",
        );
      }
      if (title) throw new BadUserInputError("title", "A DIRECT conversation has no title");
      if ((await this.safety.blocks.blockedWith(ctx.em, viewer.id, others)).size) {
        throw new BlockedError();
      }
      directKey = JSON.stringify([...[viewer.id, others[0]].sort(), subject]);
      const existing = await findDirect(ctx.em, directKey);
      if (existing) return this.rejoinDirect(ctx, existing);
    } else if (others.length + 1 > limits.groupMaxMembers) {
      throw new BadUserInputError(
        "participantIds",
        `A conversation has at most ${limits.groupMaxMembers} members`,
      );
    }

    // Counted before the policy is asked, so refused attempts cannot hammer the policy endpoint.
    await this.safety.limiters.consume("conversations", viewer.id);
    await this.safety.policy.check({
      action: "createConversation",
      actorId: viewer.id,
      participantIds: others,
      kind: input.kind,
      subject,
      conversationId: null,
    });

    let conversation: Conversation;
    try {
      conversation = await ctx.em.transactional((em) =>
        this.insert(em, { kind: input.kind, title, subject, directKey }, viewer.id, others),
      );
    } catch (error) {
      // Two first messages between the same pair raced: the other request created it.
      if (directKey && error instanceof UniqueConstraintViolationException) {
        const existing = await findDirect(ctx.em.fork(), directKey);
        if (existing) return this.rejoinDirect(ctx, existing);
      }
      throw error;
    }
    const members = [viewer.id, ...others];
    await this.membershipEvents.publish(ctx, {
      conversation,
      members,
      messages: [],
      joined: { userIds: members, sinceSeq: 0 },
    });
    return conversation;
  }

  /** The conversation and its participants: the creator, OWNER of a GROUP, and the others. */
  private async insert(
    em: EntityManager,
    fields: Pick<Conversation, "kind" | "title" | "subject" | "directKey">,
    creatorId: string,
    others: string[],
  ): Promise<Conversation> {
    await this.users.ensureUsersExist(em, others);
    const created = em.create(Conversation, fields);
    const ownerRole =
      fields.kind === ConversationKind.GROUP ? ParticipantRole.OWNER : ParticipantRole.MEMBER;
    em.create(Participant, { conversationId: created.id, userId: creatorId, role: ownerRole });
    for (const userId of others) {
      em.create(Participant, { conversationId: created.id, userId, role: ParticipantRole.MEMBER });
    }
    return created;
  }

  /** Asking for a DIRECT conversation the viewer had left brings them back into it. */
  private async rejoinDirect(ctx: RequestScope, conversation: Conversation): Promise<Conversation> {
    const viewer = ctx.requireViewer();
    if (await rejoin(ctx.em, conversation.id, viewer.id, conversation.lastSeq)) {
      // The other member's view changes too: a participant is back (and visible to presence).
      await this.membershipEvents.publish(ctx, {
        conversation,
        members: await currentMembers(ctx.em, conversation.id),
        messages: [],
        joined: { userIds: [viewer.id], sinceSeq: conversation.lastSeq },
      });
    }
    return conversation;
  }
}

const activityCursor = (c: Conversation) =>
  encodeTimeIdCursor(ACTIVITY_TAG, c.lastActivityAt, c.id);
