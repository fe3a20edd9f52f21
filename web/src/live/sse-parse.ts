/** One Server-Sent Event (WHATWG HTML, "Interpreting an event stream"). */
export interface SseMessage {
  event: string;
  data: string;
  /** the last event id seen so far in the stream (ids persist across events) */
  id: string | undefined;
}

/**
 * An incremental `text/event-stream` parser: feed it decoded text as it arrives, get the complete
 * events back. Lines end with LF, CRLF or CR; a CR at the end of a chunk waits for the next chunk
 * in case an LF follows. Comments (`:`) are skipped; `retry:` is kept for the reconnect delay.
 */
export class SseParser {
  lastEventId: string | undefined;
  retryMs: number | undefined;
  private buf = '';
  private data: string[] = [];
  private event = '';

  push(chunk: string): SseMessage[] {
    this.buf += chunk;
    const out: SseMessage[] = [];
    let start = 0;
    for (let i = 0; i < this.buf.length; i++) {
      const c = this.buf.charCodeAt(i);
      if (c !== 10 && c !== 13) continue;
      if (c === 13) {
        if (i + 1 === this.buf.length) break; // CR at the end: maybe CRLF split across chunks
        this.line(this.buf.slice(start, i), out);
        if (this.buf.charCodeAt(i + 1) === 10) i++;
      } else this.line(this.buf.slice(start, i), out);
      start = i + 1;
    }
    this.buf = this.buf.slice(start);
    return out;
  }

  private line(line: string, out: SseMessage[]): void {
    if (line === '') {
      if (this.data.length > 0) out.push({ event: this.event || 'message', data: this.data.join('\n'), id: this.lastEventId });
      this.data = [];
      this.event = '';
      return;
    }
    if (line.startsWith(':')) return;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'data') this.data.push(value);
    else if (field === 'event') this.event = value;
    else if (field === 'id' && !value.includes('\0')) this.lastEventId = value;
    else if (field === 'retry' && /^\d+$/.test(value)) this.retryMs = Number(value);
  }
}
