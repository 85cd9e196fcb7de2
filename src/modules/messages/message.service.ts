import { randomUUID } from "node:crypto";
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
import {
  decodeTimeIdCursor,
  encodeTimeIdCursor,
  pageSize,
  seqPage,
  seqWindow,
  toPage,
  type Page,
  type PageArgs,
} from "../../core/pagination";
import type { Metrics } from "../../core/metrics";
import { assertNoNul, assertStorable, codePoints, optionalText } from "../../core/validation";
import { Conversation } from "../conversations/conversation.entity";
import { ConversationKind, ParticipantRole } from "../conversations/conversation.enums";
import { requireConversation } from "../conversations/conversation.access";
import { currentMembers } from "../conversations/conversation.tx";
import { Participant } from "../conversations/participant.entity";
import {
  appendSentMessage,
  insertSentMessage,
  lockForSend,
  type NewMessage,
  type SendEvent,
} from "./message.append";
import type { Attachment } from "./attachment.type";
import { Message } from "./message.entity";
import { MessageKind } from "./message.enums";
import type { MessageWithSender } from "./message.events";
import type { MessagePublisher } from "./message.publisher";
import type { Safety } from "../moderation/safety";
import { MESSAGE_CREATED, messageCreatedEvent } from "../notifications/notification.events";
import type { TypingService } from "../typing/typing.service";
import type { SearchMessagesArgs } from "./message.args";
import type { AttachmentInput, SendMessageInput } from "./message.input";

const MAX_ATTACHMENTS = 10;
const SEARCH_TAG = "search";
const CLIENT_MESSAGE_ID = /^[\x21-\x7e]{1,100}$/;
const MIME_TYPE = /^[a-z0-9][a-z0-9!#$&^_.+-]{0,126}\/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}$/i;

export class MessageService {
  constructor(
    private readonly config: Readonly<Config>,
    private readonly orm: MikroORM,
    private readonly publisher: MessagePublisher,
    private readonly typing: TypingService,
    private readonly safety: Safety,
    private readonly metrics: Metrics,
    /** The notification relay, woken when a send wrote an outbox event. */
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
    const conversationId = assertUuid(input.conversationId, "conversationId");
    const attachments = validateAttachments(input.attachments ?? []);
    const text = validateText(
      input.text,
      attachments.length > 0,
      this.config.limits.messageMaxLength,
    );
    const clientMessageId = input.clientMessageId ?? null;
    if (clientMessageId !== null && !CLIENT_MESSAGE_ID.test(clientMessageId)) {
      throw new BadUserInputError(
        "clientMessageId",
        "clientMessageId must be 1 to 100 printable ASCII characters",
      );
    }

    this.safety.content.check(
      text,
      attachments.map((a) => a.url),
    );
    // One round trip to Redis: the message and flood counters, and whether the sender is typing.
    const floodKey = this.safety.content.floodKey(viewer.id, text);
    let typing: string | null | undefined;
    try {
      typing = await this.safety.limiters.consumeSend(
        viewer.id,
        floodKey,
        this.typing.peek(viewer.id, conversationId),
      );
    } catch (error) {
      // Over the limit, a retry of a stored send still gets its message: retries are not counted.
      if (!(error instanceof RateLimitedError) || !clientMessageId) throw error;
      const existing = await this.findByClientId(ctx, clientMessageId, conversationId);
      if (!existing) throw error;
      await this.safety.limiters.refundSend(viewer.id, null);
      return existing;
    }
    const fields = {
      kind: messageKind(attachments),
      senderId: viewer.id,
      text,
      attachments,
      clientMessageId,
    };
    const eventId = randomUUID();
    // The notification event commits (or rolls back) with the message; the relay sends it.
    const event = {
      id: eventId,
      topic: MESSAGE_CREATED,
      channel: this.config.notifications.channel,
      payload: (message: Message) => messageCreatedEvent(eventId, message, []),
    };

    let sent: { message: Message; members: string[] } | Message;
    try {
      // One statement when nothing stands in the way; otherwise the lock, then what it found.
      sent =
        // The root EntityManager, for its connection only: the statement needs no request fork.
        (await appendSentMessage(this.orm.em, conversationId, fields, event)) ??
        (await this.sendLocked(ctx, conversationId, fields, event));
    } catch (error) {
      // A concurrent retry with the same clientMessageId won the race: return its message.
      if (clientMessageId && error instanceof UniqueConstraintViolationException) {
        const existing = await this.findByClientId(ctx, clientMessageId, conversationId);
        if (!existing) throw error;
        sent = existing;
      } else {
        throw error;
      }
    }
    if (sent instanceof Message) {
      // A retry: the stored message, with nothing published and nothing counted.
      await this.safety.limiters.refundSend(viewer.id, floodKey);
      return sent;
    }
    const { message, members } = sent;

    // The sender is the viewer: `sender` resolves from it (no loaders made for the request).
    (message as MessageWithSender).sender = { id: viewer.id, displayName: viewer.displayName };
    this.metrics.messagesSent.inc({ kind: message.kind });
    this.notifications.wake();
    await this.publisher.added(ctx, message, members);
    await this.typing.stopAfterSend(viewer, conversationId, members, typing).catch((error) => {
      ctx.log.warn({ err: error }, "typing stop failed");
    });
    return message;
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
    event: SendEvent,
  ): Promise<{ message: Message; members: string[] } | Message> {
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
      const message = await insertSentMessage(em, locked, conversationId, fields, {
        ...event,
        payload: (m) => messageCreatedEvent(event.id, m, members),
      });
      return { message, members };
    });
  }

  /**
   * Full-text search over the conversations the viewer is currently in (or one of them), newest
   * first; deleted messages never match. Words match whole, in any language ('simple' config).
   */
  async search(ctx: RequestScope, args: SearchMessagesArgs): Promise<Page<Message>> {
    const viewer = ctx.requireViewer();
    const query = optionalText(args.query, "query", 200);
    if (!query) throw new BadUserInputError("query", "query must not be empty");
    assertNoNul(query, "query");
    const limit = pageSize(args.first, "first", this.config.limits);
    const params: unknown[] = [viewer.id, query];
    let where = "";
    if (args.conversationId != null) {
      const conversation = await requireConversation(ctx, args.conversationId, "conversationId");
      where += " and m.conversation_id = ?";
      params.push(conversation.id);
    }
    if (args.after != null) {
      where += " and (m.created_at, m.id) < (?, ?)";
      params.push(...decodeTimeIdCursor(args.after, SEARCH_TAG, "after"));
    }
    params.push(limit + 1);
    const rows = await ctx.em.execute(
      `select m.* from message m
         join participant p on p.conversation_id = m.conversation_id
          and p.user_id = ? and p.left_at is null
        where m.deleted_at is null
          and to_tsvector('simple', coalesce(m.text, '')) @@ websearch_to_tsquery('simple', ?)${where}
        order by m.created_at desc, m.id desc limit ?`,
      params,
    );
    const items = rows.slice(0, limit).map((row) => ctx.em.map(Message, row));
    return toPage(
      items,
      (m) => encodeTimeIdCursor(SEARCH_TAG, m.createdAt, m.id),
      args.after != null,
      rows.length > limit,
    );
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
        const conversation = await em.findOneOrFail(Conversation, { id: message.conversationId });
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
    const rows = await em.execute<Array<Record<string, unknown> & { _member: boolean }>>(
      `select m.*, exists (
                select 1 from participant p
                 where p.conversation_id = ? and p.user_id = m.sender_id and p.left_at is null
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

function validateText(value: string | null | undefined, optional: boolean, max: number) {
  if (value != null) assertStorable(value, "text");
  const text = optionalText(value, "text", max);
  if (!text && !optional) {
    throw new BadUserInputError("text", "text must not be empty unless attachments are sent");
  }
  return text;
}

function validateAttachments(inputs: AttachmentInput[]): Attachment[] {
  if (inputs.length > MAX_ATTACHMENTS) {
    throw new BadUserInputError("attachments", `At most ${MAX_ATTACHMENTS} attachments`);
  }
  return inputs.map((input, i) => {
    const field = `attachments[${i}]`;
    const mediaId = input.mediaId.trim();
    if (!mediaId || codePoints(mediaId) > 200) {
      throw new BadUserInputError(`${field}.mediaId`, "mediaId must be 1 to 200 characters");
    }
    const url = input.url.length <= 2048 && URL.canParse(input.url) ? new URL(input.url) : null;
    if (!url || url.protocol !== "https:") {
      throw new BadUserInputError(
        `${field}.url`,
        "url must be an https URL of at most 2048 characters",
      );
    }
    if (!MIME_TYPE.test(input.mimeType)) {
      throw new BadUserInputError(`${field}.mimeType`, "mimeType must look like type/subtype");
    }
    for (const key of ["size", "width", "height"] as const) {
      const n = input[key];
      if (n != null && n < 0)
        throw new BadUserInputError(`${field}.${key}`, `${key} must not be negative`);
    }
    const name = optionalText(input.name, `${field}.name`, 255);
    if (name) assertStorable(name, `${field}.name`);
    assertStorable(mediaId, `${field}.mediaId`);
    return {
      mediaId,
      url: url.toString(),
      mimeType: input.mimeType.toLowerCase(),
      name,
      size: input.size ?? null,
      width: input.width ?? null,
      height: input.height ?? null,
    };
  });
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
  const me = message
    ? await em.findOne(Participant, {
        conversationId: message.conversationId,
        userId: viewerId,
        leftAt: null,
      })
    : null;
  if (!message || !me) throw new NotFoundError("Message");
  return { message, me };
}
