// The dashboard reads the event stream with fetch() (the key stays in a header), so it parses
// server-sent events itself: frames split anywhere across chunks, comments, CRLF, multi-line data.
import { SseParser } from "../../ui/src/api/sse";

describe("the dashboard's event-stream parser", () => {
  it("parses the gateway's frames, ignoring its comments and keepalives", () => {
    const p = new SseParser();
    expect(p.push(": wafleet event stream\n\n")).toEqual([]);
    const frames = p.push('id: 01J\nevent: wa.session.status\ndata: {"status":"WORKING"}\n\n: keepalive\n\n');
    expect(frames).toEqual([{ id: "01J", event: "wa.session.status", data: '{"status":"WORKING"}' }]);
  });

  it("keeps a frame split across chunks at any byte until it is complete", () => {
    const text = 'id: 1\nevent: a\ndata: {"x":1}\n\nid: 2\nevent: b\ndata: {"y":2}\n\n';
    for (let cut = 1; cut < text.length; cut++) {
      const p = new SseParser();
      const frames = [...p.push(text.slice(0, cut)), ...p.push(text.slice(cut))];
      expect(frames.map((f) => f.event)).toEqual(["a", "b"]);
      expect(frames.map((f) => JSON.parse(f.data))).toEqual([{ x: 1 }, { y: 2 }]);
    }
  });

  it("accepts CRLF and CR line ends, joins multi-line data, and defaults the event name", () => {
    const p = new SseParser();
    expect(p.push("data: a\r\ndata: b\r\n\r\nevent: e\rdata:c\r\r")).toEqual([
      { id: undefined, event: "message", data: "a\nb" },
      { id: undefined, event: "e", data: "c" },
    ]);
  });
});
