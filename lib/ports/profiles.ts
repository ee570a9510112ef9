/** A user's profile: contact points and attributes (seed §4 User). */
export interface Profile {
  userId: string;
  email: string | null;
  phone: string | null;
  /** Push targets: FCM tokens (strings) or Web Push subscriptions ({endpoint, keys}). */
  deviceTokens: unknown[];
  /** IANA time zone, for quiet hours. */
  timezone: string | null;
  attributes: Record<string, unknown>;
  createdAt: Date;
  updatedAt: Date;
}

export type ProfileInput = Pick<Profile, "email" | "phone" | "deviceTokens" | "timezone" | "attributes">;

export interface ProfileStore {
  get(userId: string): Promise<Profile | null>;
  /**
   * The profiles of these users, in one read (a batch run takes a page of members at once). A
   * user without a profile is absent; a profile that cannot be read (its key is gone) is its
   * Error, so one bad row does not fail the others.
   */
  getMany(userIds: readonly string[]): Promise<Map<string, Profile | Error>>;
  /** Creates or replaces; returns the stored profile and whether it was new. */
  put(userId: string, input: ProfileInput, now: Date): Promise<{ profile: Profile; created: boolean }>;
  erase(userId: string): Promise<void>;
  /**
   * Key rotation: re-encrypts every profile whose personal data is not under the current key
   * (or is still plaintext from before encryption), in batches of `batch`. Values under a key the
   * ring no longer has are counted as `unreadable` and left alone.
   */
  rewrap(batch?: number): Promise<RewrapResult>;
}

export interface RewrapResult {
  /** Profiles looked at (those not entirely under the current key). */
  scanned: number;
  rewrapped: number;
  unreadable: number;
}
