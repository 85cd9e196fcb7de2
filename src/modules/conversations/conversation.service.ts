import { UniqueConstraintViolationException } from "@mikro-orm/core";
import type { EntityManager } from "@mikro-orm/postgresql";
import type { RequestScope } from "../../request-scope";
import type { Config } from "../../config";
import { BadUserInputError, BlockedError, ForbiddenError, NotFoundError } from "../../core/errors";
import { assertUserId, assertUuid } from "../../core/ids";
import {
  decodeTimeIdCursor,
  encodeTimeIdCursor,
  pageSize,
  toPage,
  type Page,
} from "../../core/pagination";
import type { PubSub } from "../../core/pubsub";
import { Topic } from "../../core/pubsub";
import type { Logger } from "../../core/logger";
import { assertNoNul, assertStorable, likePattern, optionalText } from "../../core/validation";
import { appendMessage } from "../messages/message.append";
import { MessageKind } from "../messages/message.enums";
import type { MessagePublisher } from "../messages/message.publisher";
import { SystemEventType } from "../messages/system-event.type";
import type { Safety } from "../moderation/safety";
import type { TypingService } from "../typing/typing.service";
import type { UserService } from "../users/user.service";
import { requireConversation } from "./conversation.access";
import { toConversationPayload } from "./conversation.events";
import { currentMembers, lockConversation } from "./conversation.tx";
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
    private readonly publisher: MessagePublisher,
    private readonly typing: TypingService,
    private readonly safety: Safety,
    private readonly logger: Logger,
  ) {}

  /** The viewer's conversations, most recent activity first. */
  async list(ctx: RequestScope, args: ConversationsArgs): Promise<Page<Conversation>> {
    const viewer = ctx.requireViewer();
    const limit = pageSize(args.first, "first", this.config.limits);
    const params: unknown[] = [viewer.id];
    let where = "";
    if (args.after != null) {
      const [at, id] = decodeTimeIdCursor(args.after, ACTIVITY_TAG, "after");
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
      const existing = await this.findDirect(ctx.em, directKey);
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
        if (existing) return this.rejoinDirect(ctx, existing);
      }
      throw error;
    }
    const members = [viewer.id, ...others];
    await this.publishMembership(members, {
      type: "joined",
      conversationId: conversation.id,
      sinceSeq: 0,
    });
    await this.publishUpdated(members, conversation);
    return conversation;
  }

  private async findDirect(em: EntityManager, directKey: string): Promise<Conversation | null> {
    return em.findOne(Conversation, { directKey });
  }

  /** Asking for a DIRECT conversation the viewer had left brings them back into it. */
  private async rejoinDirect(ctx: RequestScope, conversation: Conversation): Promise<Conversation> {
    const viewer = ctx.requireViewer();
    const rows = await ctx.em.execute<{ last_read_seq: number }[]>(
      `update participant set left_at = null, joined_at = now(), last_read_seq = ?
        where conversation_id = ? and user_id = ? and left_at is not null
        returning last_read_seq`,
      [conversation.lastSeq, conversation.id, viewer.id],
    );
    if (rows.length) {
      await this.publishMembership([viewer.id], {
        type: "joined",
        conversationId: conversation.id,
        sinceSeq: conversation.lastSeq,
      });
      // The other member's view changes too: a participant is back (and visible to presence).
      await this.publishUpdated(await currentMembers(ctx.em, conversation.id), conversation);
    }
    return conversation;
  }

  /** OWNER and ADMIN add members to a GROUP; new members have read nothing before their arrival. */
  async addParticipants(ctx: RequestScope, id: string, userIds: string[]): Promise<Conversation> {
    const viewer = ctx.requireViewer();
    const conversationId = assertUuid(id, "conversationId");
    const { groupMaxMembers } = this.config.limits;
    if (!userIds.length || userIds.length > groupMaxMembers) {
      throw new BadUserInputError("userIds", `Add 1 to ${groupMaxMembers} users`);
    }
    const wanted = [...new Set(userIds.map((u) => assertUserId(u, "userIds")))];
    // Ask the policy before taking the conversation's lock: it is a network call.
    const conversation = await requireConversation(ctx, conversationId, "conversationId");
    // Only an OWNER or ADMIN of a group gets the policy asked; both are checked again under the lock.
    assertGroup(conversation);
    if ((await ctx.loaders.membership.load(conversationId))?.role === ParticipantRole.MEMBER) {
      throw new ForbiddenError("Only an OWNER or ADMIN can add participants");
    }
    const members = new Set(await currentMembers(ctx.em, conversationId));
    const candidates = wanted.filter((id) => !members.has(id));
    if (candidates.length) {
      await this.safety.policy.check({
        action: "addParticipants",
        actorId: viewer.id,
        participantIds: candidates,
        kind: conversation.kind,
        subject: conversation.subject,
        conversationId,
      });
    }
    const change = await ctx.em.transactional(async (em) => {
      const { conversation, me } = await lockConversation(em, conversationId, viewer.id);
      assertGroup(conversation);
      if (me.role === ParticipantRole.MEMBER) {
        throw new ForbiddenError("Only an OWNER or ADMIN can add participants");
      }
      const rows = await em.find(Participant, { conversationId });
      const current = new Set(rows.filter((p) => !p.leftAt).map((p) => p.userId));
      const added = wanted.filter((u) => !current.has(u));
      if (!added.length) return null;
      if (current.size + added.length > groupMaxMembers) {
        throw new BadUserInputError(
          "userIds",
          `A conversation has at most ${groupMaxMembers} members`,
        );
      }
      // Nobody joins a group whose owner they have a block with.
      const owner = rows.find((p) => !p.leftAt && p.role === ParticipantRole.OWNER)?.userId;
      const blocked = await this.safety.blocks.blockedWith(em, owner ?? viewer.id, added);
      if (blocked.size) throw new BlockedError("A block with the group's owner prevents this");
      await this.users.ensureUsersExist(em, added);
      const sinceSeq = conversation.lastSeq;
      const now = new Date();
      const former = new Map(rows.map((p) => [p.userId, p]));
      for (const userId of added) {
        const row =
          former.get(userId) ?? em.create(Participant, { conversationId, userId, joinedAt: now });
        Object.assign(row, {
          leftAt: null,
          role: ParticipantRole.MEMBER,
          joinedAt: now,
          lastReadSeq: sinceSeq,
          lastReadAt: null,
        });
      }
      const message = appendMessage(
        em,
        conversation,
        {
          kind: MessageKind.SYSTEM,
          senderId: null,
          text: `${await displayNames(em, [viewer.id])} added ${await displayNames(em, added)}`,
          systemEvent: {
            type: SystemEventType.PARTICIPANTS_ADDED,
            actorId: viewer.id,
            userIds: added,
          },
        },
        now,
      );
      return { conversation, message, added, sinceSeq, audience: [...current, ...added] };
    });
    if (!change) return requireConversation(ctx, conversationId, "conversationId");
    await this.publisher.added(ctx, change.message, change.audience);
    await this.publishMembership(change.added, {
      type: "joined",
      conversationId,
      sinceSeq: change.sinceSeq,
    });
    await this.publishUpdated(change.audience, change.conversation);
    return change.conversation;
  }

  /** OWNER removes anyone, ADMIN removes MEMBERs; the removed user's access ends at commit. */
  async removeParticipant(ctx: RequestScope, id: string, userId: string): Promise<Conversation> {
    const viewer = ctx.requireViewer();
    const conversationId = assertUuid(id, "conversationId");
    const targetId = assertUserId(userId, "userId");
    if (targetId === viewer.id) {
      throw new BadUserInputError("userId", "Use leaveConversation to leave");
    }
    const change = await ctx.em.transactional(async (em) => {
      const { conversation, me } = await lockConversation(em, conversationId, viewer.id);
      assertGroup(conversation);
      const target = await em.findOne(Participant, {
        conversationId,
        userId: targetId,
        leftAt: null,
      });
      if (!target) throw new NotFoundError("Participant");
      const allowed =
        me.role === ParticipantRole.OWNER ||
        (me.role === ParticipantRole.ADMIN && target.role === ParticipantRole.MEMBER);
      if (!allowed) throw new ForbiddenError("Not allowed to remove this participant");
      target.leftAt = new Date();
      const message = appendMessage(em, conversation, {
        kind: MessageKind.SYSTEM,
        senderId: null,
        text: `${await displayNames(em, [viewer.id])} removed ${await displayNames(em, [targetId])}`,
        systemEvent: {
          type: SystemEventType.PARTICIPANT_REMOVED,
          actorId: viewer.id,
          userIds: [targetId],
        },
      });
      // The raw read does not see the unflushed leftAt: the target would count as remaining.
      const remaining = (await currentMembers(em, conversationId)).filter((id) => id !== targetId);
      return { conversation, message, remaining };
    });
    await this.publishMembership([targetId], { type: "left", conversationId, sinceSeq: 0 });
    await this.typing.stop({ id: targetId, displayName: null }, conversationId, change.remaining);
    // The removed user still learns of their removal, and nothing after it.
    await this.publisher.added(ctx, change.message, [...change.remaining, targetId]);
    await this.publishUpdated([...change.remaining, targetId], change.conversation);
    return change.conversation;
  }

  /**
   * Anyone may leave. An OWNER leaving hands ownership to the oldest member; the last member
   * leaving ends the conversation for everyone (a DIRECT pair may then start a new one).
   */
  async leave(ctx: RequestScope, id: string): Promise<boolean> {
    const viewer = ctx.requireViewer();
    const conversationId = assertUuid(id, "conversationId");
    const change = await ctx.em.transactional(async (em) => {
      const { conversation, me } = await lockConversation(em, conversationId, viewer.id);
      const now = new Date();
      me.leftAt = now;
      const remaining = await em.find(
        Participant,
        { conversationId, leftAt: null, userId: { $ne: viewer.id } },
        { orderBy: { joinedAt: "asc", userId: "asc" } },
      );
      if (!remaining.length) {
        conversation.directKey = null;
        return { conversation, messages: [], remaining: [] };
      }
      const messages = [
        appendMessage(
          em,
          conversation,
          {
            kind: MessageKind.SYSTEM,
            senderId: null,
            text: `${await displayNames(em, [viewer.id])} left`,
            systemEvent: {
              type: SystemEventType.PARTICIPANT_LEFT,
              actorId: viewer.id,
              userIds: [viewer.id],
            },
          },
          now,
        ),
      ];
      if (me.role === ParticipantRole.OWNER && conversation.kind === ConversationKind.GROUP) {
        const heir = remaining[0];
        heir.role = ParticipantRole.OWNER;
        messages.push(
          appendMessage(
            em,
            conversation,
            {
              kind: MessageKind.SYSTEM,
              senderId: null,
              text: `${await displayNames(em, [heir.userId])} is now the owner`,
              systemEvent: {
                type: SystemEventType.OWNER_CHANGED,
                actorId: viewer.id,
                userIds: [heir.userId],
              },
            },
            now,
          ),
        );
      }
      return { conversation, messages, remaining: remaining.map((p) => p.userId) };
    });
    await this.publishMembership([viewer.id], { type: "left", conversationId, sinceSeq: 0 });
    await this.typing.stop(viewer, conversationId, change.remaining);
    for (const message of change.messages) {
      await this.publisher.added(ctx, message, change.remaining);
    }
    await this.publishUpdated([...change.remaining, viewer.id], change.conversation);
    return true;
  }

  /** The OWNER makes a member ADMIN or an ADMIN a MEMBER again. */
  async setRole(
    ctx: RequestScope,
    id: string,
    userId: string,
    role: ParticipantRole,
  ): Promise<Conversation> {
    const viewer = ctx.requireViewer();
    const conversationId = assertUuid(id, "conversationId");
    const targetId = assertUserId(userId, "userId");
    if (role === ParticipantRole.OWNER) {
      throw new BadUserInputError("role", "Ownership passes only when the OWNER leaves");
    }
    if (targetId === viewer.id) throw new BadUserInputError("userId", "The OWNER keeps their role");
    const change = await ctx.em.transactional(async (em) => {
      const { conversation, me } = await lockConversation(em, conversationId, viewer.id);
      assertGroup(conversation);
      if (me.role !== ParticipantRole.OWNER) throw new ForbiddenError("Only the OWNER sets roles");
      const target = await em.findOne(Participant, {
        conversationId,
        userId: targetId,
        leftAt: null,
      });
      if (!target) throw new NotFoundError("Participant");
      if (target.role === role) return null;
      target.role = role;
      const message = appendMessage(em, conversation, {
        kind: MessageKind.SYSTEM,
        senderId: null,
        text: `${await displayNames(em, [targetId])} is now ${role === ParticipantRole.ADMIN ? "an admin" : "a member"}`,
        systemEvent: {
          type: SystemEventType.ROLE_CHANGED,
          actorId: viewer.id,
          userIds: [targetId],
        },
      });
      return { conversation, message, audience: await currentMembers(em, conversationId) };
    });
    if (!change) return requireConversation(ctx, conversationId, "conversationId");
    await this.publisher.added(ctx, change.message, change.audience);
    await this.publishUpdated(change.audience, change.conversation);
    return change.conversation;
  }

  /** conversationUpdated for each user's inbox; after commit, losses only logged. */
  async publishUpdated(userIds: string[], conversation: Conversation): Promise<void> {
    const payload = toConversationPayload(conversation);
    await Promise.all(
      [...new Set(userIds)].map((userId) =>
        this.pubsub.publish(Topic.conversationUpdated(userId), payload).catch((error: unknown) => {
          this.logger.warn({ err: error, userId }, "conversationUpdated publish failed");
        }),
      ),
    );
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

const activityCursor = (c: Conversation) =>
  encodeTimeIdCursor(ACTIVITY_TAG, c.lastActivityAt, c.id);

function assertGroup(conversation: Conversation): void {
  if (conversation.kind !== ConversationKind.GROUP) {
    throw new BadUserInputError("conversationId", "A DIRECT conversation has exactly two members");
  }
}

/** "Alice, Bob and Carol" for SYSTEM message text; ids stand in for unknown names. */
async function displayNames(em: EntityManager, userIds: string[]): Promise<string> {
  const rows = await em.execute<{ id: string; display_name: string | null }[]>(
    `select id, display_name from app_user
      where id in (select value from jsonb_array_elements_text(?::jsonb))`,
    [JSON.stringify(userIds)],
  );
  const names = new Map(rows.map((r) => [r.id, r.display_name ?? r.id]));
  const list = userIds.map((id) => names.get(id) ?? id);
  return list.length > 1 ? `${list.slice(0, -1).join(", ")} and ${list[list.length - 1]}` : list[0];
}
