// A reservation that is never completed (the gateway died, or the store was away when the request
// ended) expires on its own instead of blocking the key for the whole TTL.
import { IdempotencyKeys } from "../../lib/api/idempotency";
import { MemoryApiStore } from "../../lib/api/store";

it("frees a key whose request never completed after the pending TTL, but keeps completed ones", async () => {
  const keys = new IdempotencyKeys(new MemoryApiStore(), 60_000, 150);
  expect(await keys.begin("send|w|s", "k1", "fp")).toBeUndefined();
  await expect(keys.begin("send|w|s", "k1", "fp")).rejects.toMatchObject({ type: "IDEMPOTENCY_KEY_IN_USE" });
  await new Promise((r) => setTimeout(r, 250));
  expect(await keys.begin("send|w|s", "k1", "fp")).toBeUndefined(); // reserved again: the retry may send
  await keys.complete("send|w|s", "k1", "fp", { status: 201, body: { id: "m1" } });
  await new Promise((r) => setTimeout(r, 250));
  expect(await keys.begin("send|w|s", "k1", "fp")).toEqual({ status: 201, body: { id: "m1" } });
});
