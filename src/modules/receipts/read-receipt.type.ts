import { Field, ID, Int, ObjectType } from "type-graphql";
import type { User } from "../users/user.entity";

@ObjectType("ReadReceipt", { description: "A participant's read position moved forward." })
export class ReadReceipt {
  @Field(() => ID)
  conversationId!: string;

  /** Resolved by ReceiptResolver.user from the payload, without a database read. */
  user!: Pick<User, "id" | "displayName">;

  @Field(() => Int)
  lastReadSeq!: number;

  @Field(() => Date)
  readAt!: Date;
}

/** Published on Topic.readReceipt after a read position moved. */
export interface ReadReceiptEvent {
  conversationId: string;
  user: Pick<User, "id" | "displayName">;
  lastReadSeq: number;
  readAt: string;
  audience: string[];
}
