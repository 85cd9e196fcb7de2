import {
  Arg,
  Args,
  Authorized,
  Ctx,
  FieldResolver,
  Mutation,
  Query,
  Resolver,
  Root,
  Subscription,
  type SubscribeResolverData,
} from "type-graphql";
import type { Context } from "../../context";
import { mapAsyncIterator } from "../../core/async-queue";
import type { Page } from "../../core/pagination";
import { Conversation } from "../conversations/conversation.entity";
import { User } from "../users/user.entity";
import { MessageAddedArgs, MessagesArgs } from "./message.args";
import { Message } from "./message.entity";
import type { MessageWithSender } from "./message.events";
import { SendMessageInput } from "./message.input";
import { MessageConnection } from "./message.payload";

@Resolver(() => Message)
export class MessageResolver {
  @Authorized()
  @Query(() => MessageConnection, {
    description:
      "Ordered by seq ascending. `last: 50` (or no page arguments) is the newest page; `before` walks back.",
  })
  async messages(@Args() args: MessagesArgs, @Ctx() ctx: Context): Promise<Page<Message>> {
    const conversation = await ctx.app.conversations.require(
      ctx,
      args.conversationId,
      "conversationId",
    );
    return ctx.app.messages.page(ctx, conversation.id, args);
  }

  @Authorized()
  @Mutation(() => Message)
  sendMessage(
    @Arg("input", () => SendMessageInput) input: SendMessageInput,
    @Ctx() ctx: Context,
  ): Promise<Message> {
    return ctx.app.messages.send(ctx, input);
  }

  @Subscription(() => Message, {
    description:
      "New messages in seq order. Without conversationId: every conversation the viewer is in, as membership changes.",
    subscribe: async ({
      args,
      context,
    }: SubscribeResolverData<unknown, MessageAddedArgs, Context>) => {
      const viewer = context.requireViewer();
      const stream = await context.app.messageStreams.messageAdded(
        viewer,
        args.conversationId,
        args.afterSeq,
      );
      return mapAsyncIterator(stream, (message) => {
        context.renew();
        return message;
      });
    },
  })
  messageAdded(@Root() message: Message, @Args() _args: MessageAddedArgs): Message {
    return message;
  }

  @FieldResolver(() => User, { nullable: true, description: "Null for SYSTEM messages." })
  async sender(@Root() message: MessageWithSender, @Ctx() ctx: Context): Promise<User | null> {
    if (!message.senderId) return null;
    if (message.sender) return message.sender as User;
    return (
      (await ctx.loaders.user.load(message.senderId)) ??
      Object.assign(new User(), { id: message.senderId })
    );
  }

  @FieldResolver(() => Conversation)
  conversation(@Root() message: Message, @Ctx() ctx: Context): Promise<Conversation> {
    return ctx.app.conversations.require(ctx, message.conversationId, "conversationId");
  }

  @FieldResolver(() => [User], {
    description: "Participants other than the sender whose read position has reached this message.",
  })
  async readBy(@Root() message: Message, @Ctx() ctx: Context): Promise<User[]> {
    const participants = await ctx.loaders.participants.load(message.conversationId);
    const readers = participants.filter(
      (p) => p.userId !== message.senderId && p.lastReadSeq >= message.seq,
    );
    const users = await ctx.loaders.user.loadMany(readers.map((p) => p.userId));
    return users.map((u, i) =>
      u instanceof User ? u : Object.assign(new User(), { id: readers[i].userId }),
    );
  }
}
