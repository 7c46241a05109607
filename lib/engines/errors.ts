// Engine errors: an Error with a stable code from lib/errors.ts (`type` too, so errorCodeOf maps it).
import type { ErrorCode } from "../errors";

export class EngineError extends Error {
  readonly type: ErrorCode;

  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
    this.name = "EngineError";
    this.type = code;
  }
}
