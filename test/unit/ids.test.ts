// ULIDs from the pooled random source: well formed, time first, unique, every character of the
// alphabet in the random part, across many refills of the pool.
import { decodeTime, isValid } from "ulid";
import { ulid } from "../../lib/ids";

it("makes valid, unique ULIDs whose random part uses the whole alphabet", () => {
  const ids = Array.from({ length: 10_000 }, () => ulid(1_700_000_000_000));
  expect(ids.every((id) => isValid(id) && id.length === 26 && decodeTime(id) === 1_700_000_000_000)).toBe(true);
  expect(new Set(ids).size).toBe(ids.length);
  const chars = new Set(ids.flatMap((id) => [...id.slice(10)]));
  expect(chars.size).toBe(32);
  expect(Math.abs(decodeTime(ulid()) - Date.now())).toBeLessThan(60_000);
});
