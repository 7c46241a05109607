// Message acknowledgement levels, WhatsApp's own: -1 ERROR .. 4 PLAYED, in order.

export const ACK_LEVELS = ["ERROR", "PENDING", "SERVER", "DEVICE", "READ", "PLAYED"] as const;
export type AckLevel = (typeof ACK_LEVELS)[number];

/** WhatsApp's numeric ack (-1..4) as its name; undefined outside the range. */
export function ackLevelOf(value: number): AckLevel | undefined {
  return ACK_LEVELS[value + 1];
}

/** The numeric ack (-1..4) of a level. */
export function ackValueOf(level: AckLevel): number {
  return ACK_LEVELS.indexOf(level) - 1;
}
