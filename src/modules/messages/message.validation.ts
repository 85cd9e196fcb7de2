import { BadUserInputError } from "../../core/errors";
import { assertStorable, codePoints, optionalText } from "../../core/validation";
import type { Attachment } from "./attachment.type";
import type { AttachmentInput } from "./message.input";

const MAX_ATTACHMENTS = 10;
const CLIENT_MESSAGE_ID = /^[\x21-\x7e]{1,100}$/;
const MIME_TYPE = /^[a-z0-9][a-z0-9!#$&^_.+-]{0,126}\/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}$/i;

/** A message's text, trimmed and bounded; empty only when `optional` (attachments are sent). */
export function validateText(value: string | null | undefined, optional: boolean, max: number) {
  if (value != null) assertStorable(value, "text");
  const text = optionalText(value, "text", max);
  if (!text && !optional) {
    throw new BadUserInputError("text", "text must not be empty unless attachments are sent");
  }
  return text;
}

/** The sender's idempotency key, or null without one: 1 to 100 printable ASCII characters. */
export function validateClientMessageId(value: string | null | undefined): string | null {
  const clientMessageId = value ?? null;
  if (clientMessageId !== null && !CLIENT_MESSAGE_ID.test(clientMessageId)) {
    throw new BadUserInputError(
      "clientMessageId",
      "clientMessageId must be 1 to 100 printable ASCII characters",
    );
  }
  return clientMessageId;
}

/** Attachments as stored: checked, https URLs normalised, MIME types lower-cased. */
export function validateAttachments(inputs: AttachmentInput[]): Attachment[] {
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
