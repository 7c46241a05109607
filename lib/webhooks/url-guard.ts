// Where webhooks may go: http(s) only, and no private, loopback, link-local or otherwise internal
// address unless WEBHOOK_ALLOW_PRIVATE=true. Checked when the URL is set and again on every
// connection (the lookup below), so a name that later resolves inward is refused too.
import dns from "node:dns";
import net from "node:net";
import { WafleetError } from "../errors";
import { isInternalAddress } from "../net/internal-addresses";

/** True when `ip` is an address webhooks must not reach without WEBHOOK_ALLOW_PRIVATE (the list: lib/net). */
export { isInternalAddress };

function refused(reason: string): WafleetError {
  return new WafleetError("WEBHOOK_URL_REFUSED", `Webhook URL refused: ${reason}`);
}

/**
 * A refusal whose detail (what an internal name resolves to) is for the operator's log only: the
 * caller learns that the host is not public, not what is behind it.
 */
export class InternalTargetError extends WafleetError {
  constructor(readonly detail: string) {
    super("WEBHOOK_URL_REFUSED", "Webhook URL refused: the host is not a public address");
  }
}

/** Parses and checks a webhook URL's form and literal host; throws WEBHOOK_URL_REFUSED. */
export function checkWebhookUrl(raw: string, allowPrivate: boolean): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw refused("not a URL");
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") throw refused(`scheme ${url.protocol} (only http and https)`);
  if (url.username || url.password) throw refused("credentials in the URL (use custom headers)");
  const host = url.hostname.replace(/^\[|\]$/g, "");
  if (!host) throw refused("no host");
  if (!allowPrivate) {
    if (net.isIP(host) && isInternalAddress(host)) throw refused("the host is not a public address");
    if (/^localhost$|\.localhost$|\.local$|\.internal$/i.test(host)) throw refused("the host is an internal name");
  }
  return url;
}

/** Resolves the URL's host now and refuses it if any address is internal (early feedback on set). */
export async function resolveWebhookUrl(url: URL, allowPrivate: boolean): Promise<void> {
  if (allowPrivate) return;
  const host = url.hostname.replace(/^\[|\]$/g, "");
  if (net.isIP(host)) return;
  let addresses: dns.LookupAddress[];
  try {
    addresses = await dns.promises.lookup(host, { all: true });
  } catch (err) {
    throw refused(`the host does not resolve (${(err as NodeJS.ErrnoException).code ?? "error"})`);
  }
  const bad = addresses.find((a) => isInternalAddress(a.address));
  if (bad) throw new InternalTargetError(`${host} resolves to ${bad.address}, an internal address`);
}

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | dns.LookupAddress[], family?: number) => void;

/** A `lookup` for http.request that refuses internal addresses at connection time (DNS rebinding). */
export function guardedLookup(allowPrivate: boolean) {
  return (hostname: string, options: dns.LookupOptions, callback: LookupCallback): void => {
    dns.lookup(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) return callback(err, "");
      const list = addresses as dns.LookupAddress[];
      if (!allowPrivate) {
        const bad = list.find((a) => isInternalAddress(a.address));
        if (bad) {
          // the delivery record is the tenant's to read: it says no more than that
          const e: NodeJS.ErrnoException = new Error("the host is not a public address");
          e.code = "WEBHOOK_URL_REFUSED";
          return callback(e, "");
        }
      }
      if (options.all) return callback(null, list);
      const first = list[0];
      if (!first) return callback(Object.assign(new Error(`${hostname} has no address`), { code: "ENOTFOUND" }), "");
      callback(null, first.address, first.family);
    });
  };
}
