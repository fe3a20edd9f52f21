import { refuse, type Envelope, type Refusal } from './types.js';

/**
 * decode: size limit, then JSON. A payload is one object or an array of them (a batch); the
 * items go on one by one, so one bad item in a batch costs only that item.
 */
export function decode(env: Envelope, maxPayloadBytes: number): unknown[] | Refusal {
  const size = env.payload.length;
  if (size > maxPayloadBytes)
    return refuse('decode', 'too_large', `payload is ${size} bytes; at most ${maxPayloadBytes} bytes are allowed (split a batch into several messages)`);
  if (size === 0) return refuse('decode', 'empty', 'payload is empty; send a JSON object or an array of objects');
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
