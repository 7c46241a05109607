// The fake WhatsApp server numbers a newly linked companion as the phone does: never 99, the number
// WhatsApp keeps for hosted devices, which Baileys refuses as a Signal address on s.whatsapp.net
// (the baileys capability suite once failed on "Unexpected non-hosted device JID with device 99").
import { companionDeviceNumber } from "../../lib/simulator/baileys/gateway";

it("gives a companion a device number from 1 to 98, each of them in time", () => {
  const seen = new Set<number>();
  // 20,000 draws: a number of 99 in range would show with certainty (1 - (98/99)^20000 ~ 1)
  for (let i = 0; i < 20_000; i++) seen.add(companionDeviceNumber());
  expect(Math.min(...seen)).toBe(1);
  expect(Math.max(...seen)).toBe(98);
  expect(seen.size).toBe(98);
});
