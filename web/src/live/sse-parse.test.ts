import { describe, expect, it } from 'vitest';
import { SseParser } from './sse-parse.js';

describe('SseParser', () => {
  it('parses events split anywhere across chunks, with LF, CRLF and CR line ends', () => {
    const text = ': gridpatrol alert stream\nretry: 2000\n\nid: 7\r\nevent: alert\r\ndata: {"a":1}\r\n\r\nid: 8\revent: alert\rdata: line1\rdata: line2\r\r\n';
    for (let size = 1; size <= text.length; size++) {
      const p = new SseParser();
      const got = [];
      for (let i = 0; i < text.length; i += size) got.push(...p.push(text.slice(i, i + size)));
      expect(got, `chunks of ${size}`).toEqual([
        { event: 'alert', data: '{"a":1}', id: '7' },
        { event: 'alert', data: 'line1\nline2', id: '8' },
      ]);
      expect(p.retryMs).toBe(2000);
      expect(p.lastEventId).toBe('8');
    }
  });

  it('keeps a CR at the end of a chunk until it knows whether an LF follows', () => {
    const p = new SseParser();
    expect(p.push('data: x\r')).toEqual([]);
    expect(p.push('\n\r')).toEqual([]);
    expect(p.push('\n')).toEqual([{ event: 'message', data: 'x', id: undefined }]);
  });
});
