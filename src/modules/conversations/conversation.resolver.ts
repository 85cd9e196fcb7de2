import {
  Arg,
  Args,
  Authorized,
  Ctx,
  FieldResolver,
  ID,
  Int,
  Mutation,
  Query,
  Resolver,
  Root,
  Subscription,
  type SubscribeResolverData,
} from "type-graphql";
import type { Context } from "../../context";
import { EventSource } from "../../core/async-queue";
import type { Page } from "../../core/pagination";
import { Topic } from "../../core/pubsub";
import { ConversationsArgs } from "./conversation.args";
import { Conversation } from "./conversation.entity";
import { ParticipantRole } from "./conversation.enums";
import { fromConversationPayload, type ConversationPayload } from "./conversation.events";
import { CreateConversationInput } from "./conversation.input";
import { ConversationConnection } from "./conversation.payload";
import { Participant } from "./participant.entity";
import { requireConversation } from "./conversation.access";

@Resolver(() => Conversation)
export class ConversationResolver {
  @Authorized()
  @Query(() => Conversation, {
    nullable: true,
    description: "A conversation the viewer is in; NOT_FOUND for any other id.",
  })
  conversation(@Arg("id", () => ID) id: string, @Ctx() ctx: Context): Promise<Conversation> {
    return requireConversation(ctx, id);
  }

  @Authorized()
  @Query(() => ConversationConnection, {
    description: "The viewer's conversations, most recent activity first.",
  })
  conversations(@Args() args: ConversationsArgs, @Ctx() ctx: Context): Promise<Page<Conversation>> {
    return ctx.services.conversations.list(ctx, args);
  }

  @Authorized()
  @Mutation(() => Conversation, {
    description:
      "Creates a conversation. A DIRECT one that already exists for the pair and subject is returned instead.",
  })
  createConversation(
    @Arg("input", () => CreateConversationInput) input: CreateConversationInput,
    @Ctx() ctx: Context,
  ): Promise<Conversation> {
    return ctx.services.conversations.create(ctx, input);
  }

  @Authorized()
  @Mutation(() => Conversation, {
    description: "OWNER or ADMIN of a GROUP; writes a SYSTEM message.",
  })
  addParticipants(
    @Arg("conversationId", () => ID) conversationId: string,
    @Arg("userIds", () => [ID]) userIds: string[],
    @Ctx() ctx: Context,
  ): Promise<Conversation> {
    return ctx.services.membership.addParticipants(ctx, conversationId, userIds);
  }

  @Authorized()
  @Mutation(() => Conversation, {
    description:
      "OWNER removes anyone, ADMIN removes MEMBERs; the removed user loses access at once.",
  })
  removeParticipant(
    @Arg("conversationId", () => ID) conversationId: string,
    @Arg("userId", () => ID) userId: string,
    @Ctx() ctx: Context,
  ): Promise<Conversation> {
    return ctx.services.membership.removeParticipant(ctx, conversationId, userId);
  }

  @Authorized()
  @Mutation(() => Boolean, {
    description: "An OWNER leaving hands ownership to the oldest member.",
  })
  leaveConversation(
    @Arg("conversationId", () => ID) conversationId: string,
    @Ctx() ctx: Context,
  ): Promise<boolean> {
    return ctx.services.membership.leave(ctx, conversationId);
  }

  @Authorized()
  @Mutation(() => Conversation, { description: "The OWNER makes a member ADMIN, or MEMBER again." })
  setParticipantRole(
    @Arg("conversationId", () => ID) conversationId: string,
    @Arg("userId", () => ID) userId: string,
    @Arg("role", () => ParticipantRole) role: ParticipantRole,
    @Ctx() ctx: Context,
  ): Promise<Conversation> {
    return ctx.services.membership.setRole(ctx, conversationId, userId, role);
  }

  @Subscription(() => Conversation, {
    description:
      "Conversations created, joined, left, renamed or whose members changed, for the viewer's inbox. A viewer removed from one receives it once more, with viewerRole null.",
    subscribe: async ({ context }: SubscribeResolverData<unknown, object, Context>) => {
      const viewer = context.requireViewer();
      const stream = await context.services.conversationStreams.userTopic(
        Topic.conversationUpdated(viewer.id),
        (payload) => fromConversationPayload(payload as ConversationPayload),
      );
      return new EventSource(stream, { renew: () => context.renew() });
    },
  })
  conversationUpdated(@Root() conversation: Conversation): Conversation {
    return conversation;
  }

  @FieldResolver(() => ParticipantRole, {
    nullable: true,
    description: "The viewer's role; null once the viewer is no longer a participant.",
  })
  async viewerRole(
    @Root() conversation: Conversation,
    @Ctx() ctx: Context,
  ): Promise<ParticipantRole | null> {
    return (await ctx.loaders.membership.load(conversation.id))?.role ?? null;
  }

  @FieldResolver(() => [Participant], {
    description: "Current participants, oldest first; empty for a viewer who is no longer one.",
  })
  async participants(
    @Root() conversation: Conversation,
    @Ctx() ctx: Context,
  ): Promise<Participant[]> {
    if (!(await ctx.loaders.membership.load(conversation.id))) return [];
    return ctx.loaders.participants.load(conversation.id);
  }

  @FieldResolver(() => Int, {
    description:
      "Messages from others, not deleted, after the viewer's read position (SYSTEM notices excluded).",
  })
  unreadCount(@Root() conversation: Conversation, @Ctx() ctx: Context): Promise<number> {
    return ctx.loaders.unreadCount.load(conversation.id);
  }
}
