import {
  Arg,
  Args,
  Authorized,
  Ctx,
  FieldResolver,
  ID,
  Mutation,
  Query,
  Resolver,
  Root,
  Subscription,
  type SubscribeResolverData,
} from "type-graphql";
import type { Context } from "../../context";
import { EventSource } from "../../core/async-queue";
import { noteDelivery } from "../../core/metrics";
import type { Page } from "../../core/pagination";
import { Conversation } from "../conversations/conversation.entity";
import { User } from "../users/user.entity";
import {
  MessageAddedArgs,
  MessagesArgs,
  MessageUpdatedArgs,
  SearchMessagesArgs,
} from "./message.args";
import { Message } from "./message.entity";
import type { MessageWithSender } from "./message.events";
import { SendMessageInput } from "./message.input";
import { SystemEvent } from "./system-event.type";
import { MessageConnection } from "./message.connection";
import { requireConversation } from "../conversations/conversation.access";

@Resolver(() => Message)
export class MessageResolver {
  @Authorized()
  @Query(() => MessageConnection, {
    description:
      "Ordered by seq ascending. `last: 50` (or no page arguments) is the newest page; `before` walks back.",
  })
  async messages(@Args() args: MessagesArgs, @Ctx() ctx: Context): Promise<Page<Message>> {
    const conversation = await requireConversation(ctx, args.conversationId, "conversationId");
    return ctx.services.messages.page(ctx, conversation.id, args);
  }

  @Authorized()
  @Query(() => MessageConnection, {
    description:
      "Full-text search in the viewer's conversations, newest first; deleted messages never match.",
  })
  searchMessages(@Args() args: SearchMessagesArgs, @Ctx() ctx: Context): Promise<Page<Message>> {
    return ctx.services.messages.search(ctx, args);
  }

  @Authorized()
  @Mutation(() => Message)
  sendMessage(
    @Arg("input", () => SendMessageInput) input: SendMessageInput,
    @Ctx() ctx: Context,
  ): Promise<Message> {
    return ctx.services.messages.send(ctx, input);
  }

  @Authorized()
  @Mutation(() => Message, {
    description: `The sender's TEXT message, within the edit window (MESSAGE_EDIT_WINDOW_MINUTES).`,
  })
  editMessage(
    @Arg("id", () => ID) id: string,
    @Arg("text", () => String) text: string,
    @Ctx() ctx: Context,
  ): Promise<Message> {
    return ctx.services.messages.edit(ctx, id, text);
  }

  @Authorized()
  @Mutation(() => Message, {
    description:
      "Leaves a tombstone (text null, attachments empty, deletedAt set, seq kept). Repeating it is a no-op.",
  })
  deleteMessage(@Arg("id", () => ID) id: string, @Ctx() ctx: Context): Promise<Message> {
    return ctx.services.messages.delete(ctx, id);
  }

  @Subscription(() => Message, {
    description: "Edits and deletions (deletedAt set, text null), for one or every conversation.",
    subscribe: async ({
      args,
      context,
    }: SubscribeResolverData<unknown, MessageUpdatedArgs, Context>) => {
      const stream = await context.services.messageStreams.messageUpdated(
        context.requireViewer(),
        args.conversationId,
      );
      return new EventSource(stream, { renew: () => context.renew() });
    },
  })
  messageUpdated(@Root() message: Message, @Args() _args: MessageUpdatedArgs): Message {
    return message;
  }

  @Subscription(() => Message, {
    description:
      "New messages in seq order. Without conversationId: every conversation the viewer is in, as membership changes.",
    subscribe: async ({
      args,
      context,
    }: SubscribeResolverData<unknown, MessageAddedArgs, Context>) => {
      const viewer = context.requireViewer();
      const stream = await context.services.messageStreams.messageAdded(
        viewer,
        args.conversationId,
        args.afterSeq,
      );
      return new EventSource(stream, {
        renew: () => context.renew(),
        delivered: (message) => noteDelivery(context, message.createdAt),
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
    return ctx.loaders.user.load(message.senderId);
  }

  @FieldResolver(() => Conversation)
  conversation(@Root() message: Message, @Ctx() ctx: Context): Promise<Conversation> {
    return requireConversation(ctx, message.conversationId, "conversationId");
  }

  @FieldResolver(() => [User], {
    description: "Participants other than the sender whose read position has reached this message.",
  })
  async readBy(@Root() message: Message, @Ctx() ctx: Context): Promise<User[]> {
    const participants = await ctx.loaders.participants.load(message.conversationId);
    // They name current participants: to anyone who is not one (a moderator reading a reported
    // message, a removed member's last event), nobody, as Conversation.participants does.
    if (!participants.some((p) => p.userId === ctx.viewer?.id)) return [];
    const readers = participants.filter(
      (p) => p.userId !== message.senderId && p.lastReadSeq >= message.seq,
    );
    return Promise.all(readers.map((p) => ctx.loaders.user.load(p.userId)));
  }
}

@Resolver(() => SystemEvent)
export class SystemEventResolver {
  @FieldResolver(() => User, {
    description: "Who made the change; the leaver for PARTICIPANT_LEFT.",
  })
  actor(@Root() event: SystemEvent, @Ctx() ctx: Context): Promise<User> {
    return ctx.loaders.user.load(event.actorId);
  }

  @FieldResolver(() => [User], { description: "The users the change was about." })
  users(@Root() event: SystemEvent, @Ctx() ctx: Context): Promise<User[]> {
    return Promise.all(event.userIds.map((id) => ctx.loaders.user.load(id)));
  }
}
