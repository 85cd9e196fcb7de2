import { Args, Ctx, FieldResolver, Resolver, Root } from "type-graphql";
import type { Context } from "../../context";
import { PageArgs, type Page } from "../../core/pagination";
import { requireConversation } from "../conversations/conversation.access";
import { Conversation } from "../conversations/conversation.entity";
import { MessageConnection } from "./message.connection";
import { Message } from "./message.entity";

/**
 * The fields of Conversation that are messages: they live with the messages, so the
 * conversations module never imports this one.
 */
@Resolver(() => Conversation)
export class ConversationMessagesResolver {
  @FieldResolver(() => Message, { nullable: true })
  async lastMessage(
    @Root() conversation: Conversation,
    @Ctx() ctx: Context,
  ): Promise<Message | null> {
    if (!conversation.lastMessageId || !(await ctx.loaders.membership.load(conversation.id))) {
      return null;
    }
    return ctx.loaders.message.load(conversation.lastMessageId);
  }

  @FieldResolver(() => MessageConnection, {
    description: "History ordered by seq ascending; with no arguments, the newest page.",
  })
  async messages(
    @Root() conversation: Conversation,
    @Args() args: PageArgs,
    @Ctx() ctx: Context,
  ): Promise<Page<Message>> {
    await requireConversation(ctx, conversation.id);
    return ctx.services.messages.page(ctx, conversation.id, args);
  }
}
