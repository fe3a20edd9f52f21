import { refuse, type Envelope, type Refusal } from './types.js';

/** Contract payloads nest three levels (batch, object, value); a status may carry a little more. */
export const MAX_DEPTH = 64;

/** Deepest bracket nesting of JSON text, brackets inside strings not counted; one pass over the bytes. */
export function nestingDepth(bytes: Buffer): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < bytes.length; i++) {
    const c = bytes[i]!;
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped byte
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > max) max = depth;
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return max;
}

/**
 * decode: size limit, then JSON. A payload is one object or an array of them (a batch); the
 * items go on one by one, so one bad item in a batch costs only that item.
 */
export function decode(env: Envelope, maxPayloadBytes: number): unknown[] | Refusal {
  const size = env.payload.length;
  if (size > maxPayloadBytes)
    return refuse('decode', 'too_large', `payload is ${size} bytes; at most ${maxPayloadBytes} bytes are allowed (split a batch into several messages)`);
  if (size === 0) return refuse('decode', 'empty', 'payload is empty; send a JSON object or an array of objects');
  // JSON.parse nests without limit, but JSON.stringify (dead letter payloads, reasons) recurses and
  // throws past a few thousand levels: such a payload would fail the runner, not become a dead letter
  const depth = nestingDepth(env.payload);
  if (depth > MAX_DEPTH)
    return refuse('decode', 'too_deep', `payload nests ${depth} levels of arrays and objects; at most ${MAX_DEPTH} are allowed`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(env.payload.toString('utf8'));
  } catch (err) {
    return refuse('decode', 'not_json', `payload is not valid JSON (${(err as Error).message})`);
  }
  if (Array.isArray(parsed)) {
    if (parsed.length === 0) return refuse('decode', 'empty_batch', 'payload is an empty array; send at least one object');
    return parsed;
  }
  if (typeof parsed !== 'object' || parsed === null)
    return refuse('decode', 'not_object', `payload is JSON ${parsed === null ? 'null' : typeof parsed}; send an object or an array of objects`);
  return [parsed];
}
