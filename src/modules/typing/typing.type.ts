import { Field, ID, ObjectType } from "type-graphql";
import type { User } from "../users/user.entity";

@ObjectType("TypingEvent")
export class TypingEvent {
  @Field(() => ID)
  conversationId!: string;

  /** Resolved from the payload by TypingResolver.user, without a database read. */
  user!: Pick<User, "id" | "displayName">;

  @Field(() => Boolean)
  isTyping!: boolean;

  @Field(() => Date, {
    nullable: true,
    description: "When a client that stops sending typing=true is considered stopped.",
  })
  expiresAt!: Date | null;
}

/** Published on Topic.typing; never stored. */
export interface TypingPayload {
  conversationId: string;
  user: Pick<User, "id" | "displayName">;
  isTyping: boolean;
  expiresAt: string | null;
  audience: string[];
  /** Participants with a block between them and the typist: they get nothing. */
  hiddenFrom: string[];
}
