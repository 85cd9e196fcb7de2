import { LockMode, UniqueConstraintViolationException } from "@mikro-orm/core";
import type { EntityManager, MikroORM } from "@mikro-orm/postgresql";
import type { RequestScope } from "../../request-scope";
import type { Config } from "../../config";
import {
  BadUserInputError,
  BlockedError,
  ConflictError,
  EditWindowExpiredError,
  ForbiddenError,
  NotFoundError,
  RateLimitedError,
} from "../../core/errors";
import { assertUuid } from "../../core/ids";
import { seqPage, seqWindow, type Page, type PageArgs } from "../../core/pagination";
import type { Metrics } from "../../core/metrics";
import { ConversationKind, ParticipantRole } from "../conversations/conversation.enums";
import { getConversation } from "../conversations/conversation.queries";
import { currentMembers, findCurrent, isCurrent } from "../conversations/participant.queries";
import {
  appendSentMessage,
  insertSentMessage,
  lockForSend,
  type NewMessage,
} from "./message.append";
import type { Attachment } from "./attachment.type";
import { Message } from "./message.entity";
import { MessageKind } from "./message.enums";
import type { MessageWithSender } from "./message.events";
import type { MessagePublisher } from "./message.publisher";
import { searchMessages } from "./message.search";
import { validateAttachments, validateClientMessageId, validateText } from "./message.validation";
import type { Safety } from "../moderation/safety";
import type { TypingService } from "../typing/typing.service";
import type { SearchMessagesArgs } from "./message.args";
import type { SendMessageInput } from "./message.input";

/** A send's input, validated. */
interface SendDraft {
  conversationId: string;
  attachments: Attachment[];
  text: string | null;
  clientMessageId: string | null;
}

/** A new message and who it is for: the conversation's current participants. */
interface Sent {
  message: Message;
  members: string[];
}

export class MessageService {
  constructor(
    private readonly config: Readonly<Config>,
    private readonly orm: MikroORM,
    private readonly publisher: MessagePublisher,
    private readonly typing: TypingService,
    private readonly safety: Safety,
    private readonly metrics: Metrics,
    /** The notification relay, woken when a send committed a message. */
    private readonly notifications: { wake(): void },
  ) {}

  /** A keyset page of a conversation the caller has already authorised. */
  async page(ctx: RequestScope, conversationId: string, args: PageArgs): Promise<Page<Message>> {
    const window = seqWindow(args, this.config.limits);
    const rows = await ctx.loaders.page.load({ conversationId, ...window });
    return seqPage(rows, window);
  }

  /**
   * Stores a message with the next seq, in one statement when nothing stands in the way, then
   * publishes it. A clientMessageId the sender already used returns the stored message and
   * publishes nothing.
   */
  async send(ctx: RequestScope, input: SendMessageInput): Promise<Message> {
    const viewer = ctx.requireViewer();
    const draft = this.validateSend(input);
    const floodKey = this.safety.content.floodKey(viewer.id, draft.text);
    const admitted = await this.admit(ctx, draft, floodKey);
    if (admitted instanceof Message) return admitted;
    const sent = await this.store(ctx, draft);
    if (sent instanceof Message) {
      // A retry: the stored message, with nothing published and nothing counted.
      await this.safety.limiters.refundSend(viewer.id, floodKey);
      return sent;
    }
    await this.announce(ctx, draft.conversationId, sent, admitted.typing);
    return sent.message;
  }

  /** The send's input, validated, and its content checked. */
  private validateSend(input: SendMessageInput): SendDraft {
    const conversationId = assertUuid(input.conversationId, "conversationId");
    const attachments = validateAttachments(input.attachments ?? []);
    const text = validateText(
      input.text,
      attachments.length > 0,
      this.config.limits.messageMaxLength,
    );
    const clientMessageId = validateClientMessageId(input.clientMessageId);

    this.safety.content.check(
      text,
      attachments.map((a) => a.url),
    );
    return { conversationId, attachments, text, clientMessageId };
  }

  /**
   * Counts the send against the sender's limits, with what the typing store said (see
   * TypingService.stopAfterSend); over the limit, the stored message of a retry.
   */
  private async admit(
    ctx: RequestScope,
    draft: SendDraft,
    floodKey: string | null,
  ): Promise<{ typing: string | null | undefined } | Message> {
    const viewer = ctx.requireViewer();
    const { conversationId, clientMessageId } = draft;
    // One round trip to Redis: the message and flood counters, and whether the sender is typing.
    try {
      const typing = await this.safety.limiters.consumeSend(
        viewer.id,
        floodKey,
        this.typing.peek(viewer.id, conversationId),
      );
      return { typing };
    } catch (error) {
      // Over the limit, a retry of a stored send still gets its message: retries are not counted.
      if (!(error instanceof RateLimitedError) || !clientMessageId) throw error;
      const existing = await this.findByClientId(ctx, clientMessageId, conversationId);
      if (!existing) throw error;
      await this.safety.limiters.refundSend(viewer.id, null);
      return existing;
    }
  }

  /** Writes the message (the notification relay's log entry too); the stored message of a retry. */
  private async store(ctx: RequestScope, draft: SendDraft): Promise<Sent | Message> {
    const viewer = ctx.requireViewer();
    const { conversationId, attachments, text, clientMessageId } = draft;
    const fields = {
      kind: messageKind(attachments),
      senderId: viewer.id,
      text,
      attachments,
      clientMessageId,
    };
    try {
      // One statement when nothing stands in the way; otherwise the lock, then what it found.
      return (
        // The root EntityManager, for its connection only: the statement needs no request fork.
        (await appendSentMessage(this.orm.em, conversationId, fields)) ??
        (await this.sendLocked(ctx, conversationId, fields))
      );
    } catch (error) {
      // A concurrent retry with the same clientMessageId won the race: return its message.
      if (clientMessageId && error instanceof UniqueConstraintViolationException) {
        const existing = await this.findByClientId(ctx, clientMessageId, conversationId);
        if (!existing) throw error;
        return existing;
      }
      throw error;
    }
  }

  /** After commit: counts and publishes the new message, and ends the sender's typing. */
  private async announce(
    ctx: RequestScope,
    conversationId: string,
    { message, members }: Sent,
    typing: string | null | undefined,
  ): Promise<void> {
    const viewer = ctx.requireViewer();
    // The sender is the viewer: `sender` resolves from it (no loaders made for the request).
    (message as MessageWithSender).sender = { id: viewer.id, displayName: viewer.displayName };
    this.metrics.messagesSent.inc({ kind: message.kind });
    this.notifications.wake();
    await this.publisher.added(ctx, message, members);
    await this.typing.stopAfterSend(viewer, conversationId, members, typing).catch((error) => {
      ctx.log.warn({ err: error }, "typing stop failed");
    });
  }

  /**
   * The send when its single statement did not happen: the stored message of a retried
   * clientMessageId, or, under the conversation's row lock, the reason (NOT_FOUND, BLOCKED) or the
   * message (a membership change had committed while the statement ran).
   */
  private async sendLocked(
    ctx: RequestScope,
    conversationId: string,
    fields: NewMessage & { senderId: string },
  ): Promise<Sent | Message> {
    const viewer = ctx.requireViewer();
    if (fields.clientMessageId) {
      const existing = await this.findByClientId(ctx, fields.clientMessageId, conversationId);
      if (existing) return existing;
    }
    return ctx.em.transactional(async (em) => {
      // Two statements: the lock with what sending needs, then every write in one.
      const locked = await lockForSend(em, conversationId);
      if (!locked || !locked.members.includes(viewer.id)) throw new NotFoundError("Conversation");
      const members = locked.members;
      if (locked.kind === ConversationKind.DIRECT) {
        const other = members.filter((id) => id !== viewer.id);
        if ((await this.safety.blocks.blockedWith(em, viewer.id, other)).size) {
          throw new BlockedError();
        }
      }
      const message = await insertSentMessage(em, locked, conversationId, fields);
      return { message, members };
    });
  }

  /**
   * Full-text search over the conversations the viewer is currently in (or one of them), newest
   * first; deleted messages never match (message.search.ts).
   */
  search(ctx: RequestScope, args: SearchMessagesArgs): Promise<Page<Message>> {
    return searchMessages(ctx, args, this.config.limits);
  }

  /** The sender's own TEXT message, not deleted, within the edit window. */
  async edit(ctx: RequestScope, id: string, rawText: string): Promise<Message> {
    const viewer = ctx.requireViewer();
    const messageId = assertUuid(id, "id");
    const text = validateText(rawText, false, this.config.limits.messageMaxLength);
    this.safety.content.check(text);
    const windowMinutes = this.config.messageEditWindowMinutes;
    const [message, audience] = await ctx.em.transactional(async (em) => {
      const { message } = await lockMessage(em, messageId, viewer.id);
      if (message.senderId !== viewer.id) {
        throw new ForbiddenError("Only the sender can edit a message");
      }
      if (message.deletedAt)
        throw new BadUserInputError("id", "A deleted message cannot be edited");
      if (message.kind !== MessageKind.TEXT) {
        throw new BadUserInputError("id", "Only TEXT messages can be edited");
      }
      if (Date.now() - message.createdAt.getTime() > windowMinutes * 60_000) {
        throw new EditWindowExpiredError(windowMinutes);
      }
      message.text = text;
      message.editedAt = new Date();
      return [message, await currentMembers(em, message.conversationId)] as const;
    });
    await this.publisher.updated(ctx, message, audience);
    return message;
  }

  /**
   * Leaves a tombstone (text null, attachments empty, deletedAt set, seq kept). The sender may
   * delete their message; an OWNER or ADMIN of a GROUP any member's. Deleting twice is a no-op.
   */
  async delete(ctx: RequestScope, id: string): Promise<Message> {
    const viewer = ctx.requireViewer();
    const messageId = assertUuid(id, "id");
    const [message, audience] = await ctx.em.transactional(async (em) => {
      const { message, me } = await lockMessage(em, messageId, viewer.id);
      if (message.kind === MessageKind.SYSTEM) {
        throw new ForbiddenError("SYSTEM messages cannot be deleted");
      }
      if (message.senderId !== viewer.id) {
        const conversation = await getConversation(em, message.conversationId);
        const moderates =
          conversation.kind === ConversationKind.GROUP && me.role !== ParticipantRole.MEMBER;
        if (!moderates) throw new ForbiddenError("Only the sender or a group admin can delete it");
      }
      if (message.deletedAt) return [message, null] as const;
      message.text = null;
      message.attachments = [];
      message.deletedAt = new Date();
      return [message, await currentMembers(em, message.conversationId)] as const;
    });
    if (audience) await this.publisher.updated(ctx, message, audience);
    return message;
  }

  /**
   * The sender's message with this clientMessageId, read with whether the sender is a current
   * participant of the conversation asked for (one statement): a retry by someone who was removed
   * or left is NOT_FOUND, as their first send would be, and never returns the stored message.
   */
  private async findByClientId(
    ctx: RequestScope,
    clientMessageId: string,
    conversationId: string,
  ): Promise<Message | null> {
    const viewer = ctx.requireViewer();
    // A fresh fork: after a lost race the request's own identity map may not hold the winner.
    const em = ctx.em.fork();
    // Joins the conversations module's participant table on purpose: one statement, its rule reused.
    const rows = await em.execute<Array<Record<string, unknown> & { _member: boolean }>>(
      `select m.*, exists (
                select 1 from participant p
                 where p.conversation_id = ? and p.user_id = m.sender_id and ${isCurrent("p")}
              ) as _member
         from message m where m.sender_id = ? and m.client_message_id = ?`,
      [conversationId, viewer.id, clientMessageId],
    );
    if (!rows.length) return null;
    const { _member: member, ...row } = rows[0];
    if (!member) throw new NotFoundError("Conversation");
    const existing = em.map(Message, row);
    if (existing.conversationId !== conversationId) {
      throw new ConflictError("clientMessageId was already used for another conversation");
    }
    return existing;
  }
}

/** IMAGE when every attachment is an image, FILE with any other attachment, TEXT without. */
function messageKind(attachments: Attachment[]): MessageKind {
  if (!attachments.length) return MessageKind.TEXT;
  return attachments.every((a) => a.mimeType.startsWith("image/"))
    ? MessageKind.IMAGE
    : MessageKind.FILE;
}

/** Locks a message the viewer can see (a current participant of its conversation); NOT_FOUND else. */
async function lockMessage(em: EntityManager, messageId: string, viewerId: string) {
  const message = await em.findOne(
    Message,
    { id: messageId },
    { lockMode: LockMode.PESSIMISTIC_WRITE },
  );
  const me = message ? await findCurrent(em, message.conversationId, viewerId) : null;
  if (!message || !me) throw new NotFoundError("Message");
  return { message, me };
}
