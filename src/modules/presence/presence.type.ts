import { Field, ID, ObjectType, registerEnumType } from "type-graphql";

export enum PresenceStatus {
  ONLINE = "ONLINE",
  OFFLINE = "OFFLINE",
}

registerEnumType(PresenceStatus, { name: "PresenceStatus" });

@ObjectType("Presence", {
  description:
    "ONLINE while the user has a live connection anywhere. Visible only to users who share a conversation; anyone else reads OFFLINE without lastSeenAt.",
})
export class Presence {
  @Field(() => ID)
  userId!: string;

  @Field(() => PresenceStatus)
  status!: PresenceStatus;

  @Field(() => Date, { nullable: true })
  lastSeenAt!: Date | null;
}

/** Published on Topic.presence(userId) when a user's status changes. */
export interface PresencePayload {
  userId: string;
  status: PresenceStatus;
  lastSeenAt: string | null;
}
