/** The authenticated caller, from a verified access token. */
export interface Viewer {
  id: string;
  displayName: string | null;
  roles: string[];
  /** Token expiry in epoch milliseconds. */
  expiresAt: number;
}

export const MODERATOR_ROLE = "moderator";
