import { LockMode, UniqueConstraintViolationException } from "@mikro-orm/core";
import type { Context } from "../../context";
import type { Config } from "../../config";
import { BadUserInputError, ConflictError, NotFoundError } from "../../core/errors";
import { assertUuid } from "../../core/ids";
import { seqPage, seqWindow, type Page, type PageArgs } from "../../core/pagination";
import { Topic, type PubSub } from "../../core/pubsub";
import { assertNoNul, codePoints, optionalText } from "../../core/validation";
import { Conversation } from "../conversations/conversation.entity";
import { Participant } from "../conversations/participant.entity";
import type { Attachment } from "./attachment.type";
import { Message } from "./message.entity";
import { MessageKind } from "./message.enums";
import { toPayload, type MessageAddedEvent } from "./message.events";
import type { AttachmentInput, SendMessageInput } from "./message.input";

const MAX_ATTACHMENTS = 10;
const CLIENT_MESSAGE_ID = /^[\x21-\x7e]{1,100}$/;
const MIME_TYPE = /^[a-z0-9][a-z0-9!#$&^_.+-]{0,126}\/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}$/i;

export class MessageService {
  constructor(
    private readonly config: Readonly<Config>,
    private readonly pubsub: PubSub,
  ) {}

  /** A keyset page of a conversation the caller has already authorised. */
  async page(ctx: Context, conversationId: string, args: PageArgs): Promise<Page<Message>> {
    const window = seqWindow(args, this.config.limits);
    const rows = await ctx.loaders.page.load({ conversationId, ...window });
    return seqPage(rows, window);
  }

  /**
   * Stores a message with the next seq under the conversation's row lock, then publishes it.
   * A clientMessageId the sender already used returns the stored message and publishes nothing.
   */
  async send(ctx: Context, input: SendMessageInput): Promise<Message> {
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

    if (clientMessageId) {
      const existing = await this.findByClientId(ctx, clientMessageId, conversationId);
      if (existing) return existing;
    }

    let message: Message;
    let audience: string[];
    try {
      [message, audience] = await ctx.em.transactional(async (em) => {
        const conversation = await em.findOne(
          Conversation,
          { id: conversationId },
          { lockMode: LockMode.PESSIMISTIC_WRITE },
        );
        const me = conversation
          ? await em.findOne(Participant, { conversationId, userId: viewer.id, leftAt: null })
          : null;
        if (!conversation || !me) throw new NotFoundError("Conversation");

        const now = new Date();
        const created = em.create(Message, {
          conversationId,
          seq: conversation.lastSeq + 1,
          senderId: viewer.id,
          kind: messageKind(attachments),
          text,
          attachments,
          clientMessageId,
          createdAt: now,
        });
        conversation.lastSeq = created.seq;
        conversation.lastMessageId = created.id;
        conversation.lastActivityAt = now;
        // Sending reads everything before it.
        me.lastReadSeq = created.seq;
        me.lastReadAt = now;
        const members = await em.execute<{ user_id: string }[]>(
          "select user_id from participant where conversation_id = ? and left_at is null",
          [conversationId],
        );
        return [created, members.map((m) => m.user_id)] as const;
      });
    } catch (error) {
      // A concurrent retry with the same clientMessageId won the race: return its message.
      if (clientMessageId && error instanceof UniqueConstraintViolationException) {
        const existing = await this.findByClientId(ctx, clientMessageId, conversationId);
        if (existing) return existing;
      }
      throw error;
    }

    ctx.loaders.message.prime(message.id, message);
    const event: MessageAddedEvent = {
      message: toPayload(message, { id: viewer.id, displayName: viewer.displayName }),
      audience,
    };
    // The message is committed; a failed publish is recovered by subscribers resuming by seq.
    await this.pubsub.publish(Topic.messageAdded(conversationId), event).catch((error: unknown) => {
      ctx.log.error({ err: error, messageId: message.id }, "messageAdded publish failed");
    });
    return message;
  }

  private async findByClientId(
    ctx: Context,
    clientMessageId: string,
    conversationId: string,
  ): Promise<Message | null> {
    const viewer = ctx.requireViewer();
    const existing = await ctx.em.fork().findOne(Message, { senderId: viewer.id, clientMessageId });
    if (!existing) return null;
    if (existing.conversationId !== conversationId) {
      throw new ConflictError("clientMessageId was already used for another conversation");
    }
    return existing;
  }
}

function validateText(value: string | null | undefined, optional: boolean, max: number) {
  if (value != null) assertNoNul(value, "text");
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
    if (name) assertNoNul(name, `${field}.name`);
    assertNoNul(mediaId, `${field}.mediaId`);
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
