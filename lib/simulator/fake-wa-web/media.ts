// The fake page's media family: what whatsapp-web.js uses to upload media on send
// (WAWebMediaOpaqueData, WAWebPrepRawMedia, WAWebMediaStorage, WAWebMmsMediaTypes,
// WAWebMediaDataUtils, WAWebMediaMmsV4Upload) and to download it on receive
// (WAWebDownloadManager). WhatsApp's media servers are a map here. Runs in the browser: see runtime.ts.
import type { FakePage } from "./runtime";

export function installMedia(page: FakePage): void {
  const { b64encode, b64decode } = page;
  // --- media: WhatsApp Web uploads to and downloads from its media servers; here both are a map ---
  const mediaByHash = new Map<string, { data: string; mimetype: string; filename?: string }>();
  const mediaByPath = new Map<string, { data: string; mimetype: string; filename?: string }>();
  const mediaTypeOf = (mimetype: string) => (/^image\//.test(mimetype) ? "image" : /^video\//.test(mimetype) ? "video" : /^audio\//.test(mimetype) ? "audio" : "document");
  // a message's media the page saw only in history: the network serves its bytes by the message's id
  const HISTORY_PREFIX = "/v/t62.fake/h/";
  page.media = { byPath: mediaByPath, typeOf: mediaTypeOf, historyPath: (id: string) => `${HISTORY_PREFIX}${encodeURIComponent(id)}` };

  class OpaqueData {
    constructor(
      readonly file: any,
      readonly type: string,
    ) {}
    static async createFromData(file: any, mimetype: string) {
      return new OpaqueData(file, mimetype);
    }
    url() {
      return "blob:https://web.whatsapp.com/fake";
    }
    autorelease() {}
    formData() {
      return this.file;
    }
  }
  /** A plain object (its fields are spread into the message), with `toJSON`/`set` kept out of the spread. */
  function mediaData(fields: Record<string, any>) {
    const md: Record<string, any> = { ...fields };
    Object.defineProperty(md, "toJSON", { value: () => ({ ...md, mediaBlob: undefined }), enumerable: false });
    Object.defineProperty(md, "set", { value: (o: Record<string, any>) => Object.assign(md, o), enumerable: false });
    return md;
  }
  async function prep(opaque: OpaqueData, params: { asDocument?: boolean; isPtt?: boolean }) {
    const bytes = new Uint8Array(await opaque.file.arrayBuffer());
    const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
    const filehash = b64encode(digest);
    let binary = "";
    for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
    // the library names a File without a filename "undefined" (or "null"): that is no name
    const name = opaque.file.name && opaque.file.name !== "undefined" && opaque.file.name !== "null" ? String(opaque.file.name) : undefined;
    mediaByHash.set(filehash, { data: btoa(binary), mimetype: opaque.type, ...(name ? { filename: name } : {}) });
    const type = params.asDocument ? "document" : params.isPtt ? "ptt" : mediaTypeOf(opaque.type);
    return mediaData({ type, mimetype: opaque.type, filehash, size: bytes.length, filename: name, isGif: false, mediaBlob: opaque });
  }

  Object.assign(page.modules, {
    WAWebMediaOpaqueData: OpaqueData,
    WAWebPrepRawMedia: { prepRawMedia: (opaque: OpaqueData, params: Record<string, any>) => ({ waitForPrep: () => prep(opaque, params) }) },
    WAWebMediaStorage: {
      getOrCreateMediaObject: (filehash: string) => {
        // a waveform already known, as for media WhatsApp Web has seen: voice notes skip generating one
        const o: Record<string, any> = { filehash, contentInfo: { waveform: new Uint8Array(64) } };
        o.consolidate = (json: Record<string, any>) => Object.assign(o, json);
        return o;
      },
    },
    WAWebMmsMediaTypes: { msgToMediaType: ({ type }: { type: string }) => type, castToV4: (t: string) => t },
    WAWebMediaDataUtils: { shouldUseMediaCache: () => false },
    WAWebMediaMmsV4Upload: {
      uploadMedia: async ({ mediaObject }: { mediaObject: any }) => {
        const directPath = `/v/t62.fake/${encodeURIComponent(mediaObject.filehash)}`;
        const media = mediaByHash.get(mediaObject.filehash);
        if (media) mediaByPath.set(directPath, media);
        return { mediaEntry: { mmsUrl: `https://mmg.whatsapp.net${directPath}`, directPath, mediaKey: "ZmFrZQ==", mediaKeyTimestamp: Math.floor(Date.now() / 1000), encFilehash: mediaObject.filehash, uploadHash: mediaObject.filehash, handle: null } };
      },
    },
    WAWebDownloadManager: {
      downloadManager: {
        downloadAndMaybeDecrypt: async ({ directPath }: { directPath: string }) => {
          let media = mediaByPath.get(directPath);
          if (!media && directPath.startsWith(HISTORY_PREFIX)) media = (await page.query({ op: "media", id: decodeURIComponent(directPath.slice(HISTORY_PREFIX.length)) }, 120000)) ?? undefined;
          if (!media) throw Object.assign(new Error("media not found"), { status: 404 });
          return b64decode(media.data).buffer;
        },
      },
    },
  });
}
