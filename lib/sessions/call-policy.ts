// A session's call policy (capability calls): reject every incoming call automatically, with an
// optional text reply to the caller. Kept in meta.json, so it survives restarts and failovers.
export interface CallPolicy {
  autoReject: boolean;
  /** Sent to the caller after an automatic rejection (not for group calls); absent: no reply. */
  message?: string;
}

export const DEFAULT_CALL_POLICY: CallPolicy = { autoReject: false };

export const CALL_REPLY_MAX = 4096;
