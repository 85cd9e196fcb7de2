import {
  Arg,
  Args,
  ArgsType,
  Authorized,
  Ctx,
  Field,
  FieldResolver,
  ID,
  Mutation,
  Resolver,
  Root,
  Subscription,
  type SubscribeResolverData,
} from "type-graphql";
import type { Context } from "../../context";
import { EventSource } from "../../core/async-queue";
import { User } from "../users/user.entity";
import { typingEvents } from "./typing.stream";
import { TypingEvent } from "./typing.type";

@ArgsType()
class TypingArgs {
  @Field(() => ID)
  conversationId!: string;
}

@Resolver(() => TypingEvent)
export class TypingResolver {
  @Authorized()
  @Mutation(() => Boolean, {
    description:
      "Send true every ~3 s while the user types, false when they stop. Events last 5 s; sending a message ends typing.",
  })
  setTyping(
    @Arg("conversationId", () => ID) conversationId: string,
    @Arg("isTyping", () => Boolean) isTyping: boolean,
    @Ctx() ctx: Context,
  ): Promise<boolean> {
    return ctx.services.typing.set(ctx, conversationId, isTyping);
  }

  @Subscription(() => TypingEvent, {
    description:
      "Others typing in a conversation; isTyping false arrives when they stop, send, leave, disconnect or let it expire.",
    subscribe: async ({ args, context }: SubscribeResolverData<unknown, TypingArgs, Context>) => {
      const stream = await typingEvents(
        context.services.conversationStreams,
        context.requireViewer(),
        args.conversationId,
      );
      return new EventSource(stream, { renew: () => context.renew() });
    },
  })
  typing(@Root() event: TypingEvent, @Args() _args: TypingArgs): TypingEvent {
    return event;
  }

  @FieldResolver(() => User)
  user(@Root() event: TypingEvent): User {
    return Object.assign(new User(), event.user);
  }
}
