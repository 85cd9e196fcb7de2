import {
  Arg,
  Args,
  ArgsType,
  Authorized,
  Ctx,
  Field,
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
import { Conversation } from "../conversations/conversation.entity";
import { User } from "../users/user.entity";
import { ReadReceipt } from "./read-receipt.type";
import { readReceipts } from "./receipt.stream";

@ArgsType()
class ReadReceiptArgs {
  @Field(() => ID, {
    nullable: true,
    description: "Without it: every conversation the viewer is in.",
  })
  conversationId?: string | null;
}

@Resolver(() => ReadReceipt)
export class ReceiptResolver {
  @Authorized()
  @Mutation(() => Conversation, {
    description:
      "Moves the viewer's read position up to upToSeq (default: the latest message); never backwards.",
  })
  markRead(
    @Arg("conversationId", () => ID) conversationId: string,
    @Arg("upToSeq", () => Int, { nullable: true }) upToSeq: number | null,
    @Ctx() ctx: Context,
  ): Promise<Conversation> {
    return ctx.services.receipts.markRead(ctx, conversationId, upToSeq);
  }

  @Authorized()
  @Query(() => Int, {
    description: "Sum of unreadCount over the viewer's conversations: the badge.",
  })
  unreadTotal(@Ctx() ctx: Context): Promise<number> {
    return ctx.services.receipts.unreadTotal(ctx);
  }

  @Subscription(() => ReadReceipt, {
    description:
      "Read positions moving forward, the viewer's own included (to sync their other devices).",
    subscribe: async ({
      args,
      context,
    }: SubscribeResolverData<unknown, ReadReceiptArgs, Context>) => {
      const stream = await readReceipts(
        context.services.conversationStreams,
        context.requireViewer(),
        args.conversationId,
      );
      return new EventSource(stream, { renew: () => context.renew() });
    },
  })
  readReceipt(@Root() receipt: ReadReceipt, @Args() _args: ReadReceiptArgs): ReadReceipt {
    return receipt;
  }

  @FieldResolver(() => User)
  user(@Root() receipt: ReadReceipt): User {
    return Object.assign(new User(), receipt.user);
  }
}
