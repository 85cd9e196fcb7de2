import type { RequestScope } from "../../request-scope";
import type { LimitsConfig } from "../../config";
import { BadUserInputError } from "../../core/errors";
import {
  decodeTimeIdCursor,
  encodeTimeIdCursor,
  pageSize,
  toPage,
  type Page,
} from "../../core/pagination";
import { assertNoNul, optionalText } from "../../core/validation";
import { requireConversation } from "../conversations/conversation.access";
import { isCurrent } from "../conversations/participant.queries";
import type { SearchMessagesArgs } from "./message.args";
import { Message } from "./message.entity";

const SEARCH_TAG = "search";

/**
 * Full-text search over the conversations the viewer is currently in (or one of them), newest
 * first; deleted messages never match. Words match whole, in any language ('simple' config).
 */
export async function searchMessages(
  ctx: RequestScope,
  args: SearchMessagesArgs,
  limits: Pick<LimitsConfig, "pageSizeDefault" | "pageSizeMax">,
): Promise<Page<Message>> {
  const viewer = ctx.requireViewer();
  const query = optionalText(args.query, "query", 200);
  if (!query) throw new BadUserInputError("query", "query must not be empty");
  assertNoNul(query, "query");
  const limit = pageSize(args.first, "first", limits);
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
          and p.user_id = ? and ${isCurrent("p")}
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
