// Errors the simulated network returns to its admin API callers, with a stable code and HTTP status.

export type SimErrorCode =
  | "VALIDATION_ERROR"
  | "INVALID_JSON"
  | "PAYLOAD_TOO_LARGE"
  | "NOT_FOUND"
  | "QR_NOT_FOUND"
  | "CODE_NOT_FOUND"
  | "DEVICE_NOT_FOUND"
  | "NOT_ADMIN"
  | "GROUP_FULL"
  | "NOT_BUSINESS";

const STATUS: Record<SimErrorCode, number> = {
  VALIDATION_ERROR: 400,
  INVALID_JSON: 400,
  PAYLOAD_TOO_LARGE: 413,
  NOT_FOUND: 404,
  QR_NOT_FOUND: 404,
  CODE_NOT_FOUND: 404,
  DEVICE_NOT_FOUND: 404,
  NOT_ADMIN: 403,
  GROUP_FULL: 409,
  NOT_BUSINESS: 409,
};

export class SimError extends Error {
  readonly status: number;

  constructor(
    readonly code: SimErrorCode,
    message: string,
    /** The request field at fault, for VALIDATION_ERROR. */
    readonly field?: string,
  ) {
    super(message);
    this.name = "SimError";
    this.status = STATUS[code];
  }

  toBody(): { error: { code: SimErrorCode; message: string; field?: string } } {
    return { error: this.field ? { code: this.code, message: this.message, field: this.field } : { code: this.code, message: this.message } };
  }
}
