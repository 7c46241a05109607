// The fake page's linking family: what whatsapp-web.js reads to build the QR and to link by phone
// number (WAWebAltDeviceLinkingApi, WABase64, WAWebCompanionRegClientUtils, WAWebAdvSignatureApi,
// WAWebUserPrefsInfoStore, WAWebSignalStoreApi, WAWebUserPrefsMultiDevice, WAWebUserPrefsMeUser).
// Runs in the browser: see runtime.ts.
import type { FakePage } from "./runtime";

export function installLinking(page: FakePage): void {
  const keys = page.keys as { noise?: Uint8Array; identity?: Uint8Array; adv?: string };
  const codeWaiters: Array<(code: string) => void> = [];

  function requestPairingCode(phone: string): Promise<string> {
    return new Promise((resolve) => {
      codeWaiters.push(resolve);
      page.transmit({ t: "pair_code", phone: String(phone) });
    });
  }

  page.frames.code = (f: any) => {
    for (const resolve of codeWaiters.splice(0)) resolve(f.code);
  };

  Object.assign(page.modules, {
    WAWebAltDeviceLinkingApi: {
      setPairingType: (_t: string) => undefined,
      initializeAltDeviceLinking: async () => undefined,
      initializeQRLinking: async () => undefined,
      startAltLinkingFlow: (phone: string) => requestPairingCode(phone),
    },
    WABase64: { encodeB64: page.b64encode, decodeB64: page.b64decode },
    WAWebCompanionRegClientUtils: { DEVICE_PLATFORM: "Chrome" },
    WAWebAdvSignatureApi: {},
    WAWebUserPrefsInfoStore: { waNoiseInfo: { get: async () => ({ staticKeyPair: { pubKey: keys.noise } }) } },
    WAWebSignalStoreApi: { waSignalStore: { getRegistrationInfo: async () => ({ identityKeyPair: { pubKey: keys.identity } }) } },
    WAWebUserPrefsMultiDevice: { getADVSecretKey: () => keys.adv },
    WAWebUserPrefsMeUser: { getMaybeMePnUser: () => page.me, getMaybeMeLidUser: () => null, getMeUser: () => page.me },
  });
}
