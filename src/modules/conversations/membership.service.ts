import type { EntityManager } from "@mikro-orm/postgresql";
import type { Config } from "../../config";
import { BadUserInputError, BlockedError, ForbiddenError, NotFoundError } from "../../core/errors";
import { assertUserId, assertUuid } from "../../core/ids";
import type { RequestScope } from "../../request-scope";
import type { Message } from "../messages/message.entity";
import type { SystemEvent } from "../messages/system-event.type";
import type { Safety } from "../moderation/safety";
import { selectDisplayNames } from "../users/user.queries";
import type { UserService } from "../users/user.service";
import { requireConversation } from "./conversation.access";
import type { Conversation } from "./conversation.entity";
import { ConversationKind, ParticipantRole, SystemEventType } from "./conversation.enums";
import { lockConversation } from "./conversation.tx";
import type { CommittedChange, MembershipPublisher } from "./membership.publisher";
import { Participant } from "./participant.entity";
import {
  currentMembers,
  findCurrent,
  findOthersOldestFirst,
  isCurrentRow,
} from "./participant.queries";

/**
 * Writes a SYSTEM message into the locked conversation's unit of work: the messages module's
 * appendSystemMessage, given by the composition (services.ts), so this module does not import it.
 */
export type AppendSystemMessage = (
  em: EntityManager,
  conversation: Conversation,
  event: SystemEvent,
  text: string,
  now: Date,
) => Message;

/** A SYSTEM message to write, with the viewer as its actor. */
interface SystemNote {
  type: SystemEventType;
  userIds: string[];
  text: string;
}

/** What one membership rule decided under the lock, its rows already changed. */
interface Decision extends Omit<CommittedChange, "conversation" | "messages"> {
  notes: SystemNote[];
}

interface Locked {
  em: EntityManager;
  conversation: Conversation;
  /** The viewer's current participant row. */
  me: Participant;
  now: Date;
}

/**
 * Who is in a conversation and with what role. Each change is made by `apply` (under the
 * conversation's row lock, with its SYSTEM messages) and announced after commit by the
 * MembershipPublisher; the public methods only say what their change is.
 */
export class MembershipService {
  constructor(
    private readonly config: Readonly<Config>,
    private readonly users: UserService,
    private readonly safety: Safety,
    private readonly publisher: MembershipPublisher,
    private readonly appendSystem: AppendSystemMessage,
  ) {}

  /** OWNER and ADMIN add members to a GROUP; new members have read nothing before their arrival. */
  async addParticipants(ctx: RequestScope, id: string, userIds: string[]): Promise<Conversation> {
    const viewer = ctx.requireViewer();
    const conversationId = assertUuid(id, "conversationId");
    const { groupMaxMembers } = this.config.limits;
    if (!userIds.length || userIds.length > groupMaxMembers) {
      throw new BadUserInputError("userIds", `Add 1 to ${groupMaxMembers} users`);
    }
    const wanted = [...new Set(userIds.map((u) => assertUserId(u, "userIds")))];
    await this.checkAddPolicy(ctx, conversationId, wanted);
    const change = await this.apply(ctx, conversationId, async ({ em, conversation, me, now }) => {
      assertGroup(conversation);
      if (me.role === ParticipantRole.MEMBER) {
        throw new ForbiddenError("Only an OWNER or ADMIN can add participants");
      }
      const rows = await em.find(Participant, { conversationId });
      const current = new Set(rows.filter(isCurrentRow).map((p) => p.userId));
      const added = wanted.filter((u) => !current.has(u));
      if (!added.length) return null;
      if (current.size + added.length > groupMaxMembers) {
        throw new BadUserInputError(
          "userIds",
          `A conversation has at most ${groupMaxMembers} members`,
        );
      }
      // Nobody joins a group whose owner they have a block with.
      const owner = rows.find((p) => isCurrentRow(p) && p.role === ParticipantRole.OWNER)?.userId;
      const blocked = await this.safety.blocks.blockedWith(em, owner ?? viewer.id, added);
      if (blocked.size) throw new BlockedError("A block with the group's owner prevents this");
      await this.users.ensureUsersExist(em, added);
      const sinceSeq = conversation.lastSeq;
      const former = new Map(rows.map((p) => [p.userId, p]));
      for (const userId of added) {
        const row =
          former.get(userId) ?? em.create(Participant, { conversationId, userId, joinedAt: now });
        Object.assign(row, {
          leftAt: null,
          leftSeq: null,
          joinedSeq: sinceSeq,
          role: ParticipantRole.MEMBER,
          joinedAt: now,
          lastReadSeq: sinceSeq,
          lastReadAt: null,
        });
      }
      const text = `${await displayNames(em, [viewer.id])} added ${await displayNames(em, added)}`;
      return {
        notes: [{ type: SystemEventType.PARTICIPANTS_ADDED, userIds: added, text }],
        members: [...current, ...added],
        joined: { userIds: added, sinceSeq },
      };
    });
    return this.finish(ctx, conversationId, change);
  }

  /** OWNER removes anyone, ADMIN removes MEMBERs; the removed user's access ends at commit. */
  async removeParticipant(ctx: RequestScope, id: string, userId: string): Promise<Conversation> {
    const viewer = ctx.requireViewer();
    const conversationId = assertUuid(id, "conversationId");
    const targetId = assertUserId(userId, "userId");
    if (targetId === viewer.id) {
      throw new BadUserInputError("userId", "Use leaveConversation to leave");
    }
    const change = await this.apply(ctx, conversationId, async ({ em, conversation, me, now }) => {
      assertGroup(conversation);
      const target = await findCurrent(em, conversationId, targetId);
      if (!target) throw new NotFoundError("Participant");
      const allowed =
        me.role === ParticipantRole.OWNER ||
        (me.role === ParticipantRole.ADMIN && target.role === ParticipantRole.MEMBER);
      if (!allowed) throw new ForbiddenError("Not allowed to remove this participant");
      target.leftAt = now;
      target.leftSeq = conversation.lastSeq;
      const text = `${await displayNames(em, [viewer.id])} removed ${await displayNames(em, [targetId])}`;
      // The raw read does not see the unflushed leftAt: the target would count as remaining.
      const members = (await currentMembers(em, conversationId)).filter((id) => id !== targetId);
      return {
        notes: [{ type: SystemEventType.PARTICIPANT_REMOVED, userIds: [targetId], text }],
        members,
        // The removed user still learns of their removal, and nothing after it.
        left: { user: { id: targetId, displayName: null }, toldOfIt: true },
      };
    });
    return this.finish(ctx, conversationId, change);
  }

  /**
   * Anyone may leave. An OWNER leaving hands ownership to the oldest member; the last member
   * leaving ends the conversation for everyone (a DIRECT pair may then start a new one).
   */
  async leave(ctx: RequestScope, id: string): Promise<boolean> {
    const viewer = ctx.requireViewer();
    const conversationId = assertUuid(id, "conversationId");
    const change = await this.apply(ctx, conversationId, async ({ em, conversation, me, now }) => {
      me.leftAt = now;
      me.leftSeq = conversation.lastSeq;
      const remaining = await findOthersOldestFirst(em, conversationId, viewer.id);
      const left = { user: viewer, toldOfIt: false };
      if (!remaining.length) {
        conversation.directKey = null;
        return { notes: [], members: [], left };
      }
      const notes: SystemNote[] = [
        {
          type: SystemEventType.PARTICIPANT_LEFT,
          userIds: [viewer.id],
          text: `${await displayNames(em, [viewer.id])} left`,
        },
      ];
      if (me.role === ParticipantRole.OWNER && conversation.kind === ConversationKind.GROUP) {
        const heir = remaining[0];
        heir.role = ParticipantRole.OWNER;
        notes.push({
          type: SystemEventType.OWNER_CHANGED,
          userIds: [heir.userId],
          text: `${await displayNames(em, [heir.userId])} is now the owner`,
        });
      }
      return { notes, members: remaining.map((p) => p.userId), left };
    });
    await this.finish(ctx, conversationId, change);
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
    const change = await this.apply(ctx, conversationId, async ({ em, conversation, me }) => {
      assertGroup(conversation);
      if (me.role !== ParticipantRole.OWNER) throw new ForbiddenError("Only the OWNER sets roles");
      const target = await findCurrent(em, conversationId, targetId);
      if (!target) throw new NotFoundError("Participant");
      if (target.role === role) return null;
      target.role = role;
      const text = `${await displayNames(em, [targetId])} is now ${role === ParticipantRole.ADMIN ? "an admin" : "a member"}`;
      return {
        notes: [{ type: SystemEventType.ROLE_CHANGED, userIds: [targetId], text }],
        members: await currentMembers(em, conversationId),
      };
    });
    return this.finish(ctx, conversationId, change);
  }

  /**
   * The one way a membership change is made: in a transaction holding the conversation's row
   * lock, the viewer a current participant (NOT_FOUND otherwise), `decide` checks and changes the
   * rows, then its SYSTEM messages take the next seqs. Null when `decide` found nothing to change.
   */
  private async apply(
    ctx: RequestScope,
    conversationId: string,
    decide: (locked: Locked) => Promise<Decision | null>,
  ): Promise<CommittedChange | null> {
    const viewer = ctx.requireViewer();
    return ctx.em.transactional(async (em) => {
      const { conversation, me } = await lockConversation(em, conversationId, viewer.id);
      const now = new Date();
      const decision = await decide({ em, conversation, me, now });
      if (!decision) return null;
      const { notes, ...change } = decision;
      const messages = notes.map(({ type, userIds, text }) =>
        this.appendSystem(em, conversation, { type, actorId: viewer.id, userIds }, text, now),
      );
      return { ...change, conversation, messages };
    });
  }

  /** After commit: publishes the change, if any, and returns the conversation as it stands. */
  private async finish(
    ctx: RequestScope,
    conversationId: string,
    change: CommittedChange | null,
  ): Promise<Conversation> {
    if (!change) return requireConversation(ctx, conversationId, "conversationId");
    await this.publisher.publish(ctx, change);
    return change.conversation;
  }

  /**
   * Asks the policy before the conversation's lock is taken (it is a network call), and only for
   * an OWNER or ADMIN of a group; both are checked again under the lock.
   */
  private async checkAddPolicy(
    ctx: RequestScope,
    conversationId: string,
    wanted: string[],
  ): Promise<void> {
    const viewer = ctx.requireViewer();
    const conversation = await requireConversation(ctx, conversationId, "conversationId");
    assertGroup(conversation);
    if ((await ctx.loaders.membership.load(conversationId))?.role === ParticipantRole.MEMBER) {
      throw new ForbiddenError("Only an OWNER or ADMIN can add participants");
    }
    const members = new Set(await currentMembers(ctx.em, conversationId));
    const candidates = wanted.filter((id) => !members.has(id));
    if (!candidates.length) return;
    await this.safety.policy.check({
      action: "addParticipants",
      actorId: viewer.id,
      participantIds: candidates,
      kind: conversation.kind,
      subject: conversation.subject,
      conversationId,
    });
  }
}

function assertGroup(conversation: Conversation): void {
  if (conversation.kind !== ConversationKind.GROUP) {
    throw new BadUserInputError("conversationId", "A DIRECT conversation has exactly two members");
  }
}

/** "Alice, Bob and Carol" for SYSTEM message text; ids stand in for unknown names. */
async function displayNames(em: EntityManager, userIds: string[]): Promise<string> {
  const names = await selectDisplayNames(em, userIds);
  const list = userIds.map((id) => names.get(id) ?? id);
  return list.length > 1 ? `${list.slice(0, -1).join(", ")} and ${list[list.length - 1]}` : list[0];
}
