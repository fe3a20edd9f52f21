import { Agent, request } from 'node:http';
import { ADMIN_TOKEN } from '../../test/helpers/gridpatrol.js';

/**
 * GET requests to GridPatrol from many loopback source addresses (127.0.0.2, .3, ...), one
 * keep-alive agent each, taken in turn. Routes marked expensive allow one client address 120
 * requests a minute; a benchmark that polls a query faster than that spreads its requests so
 * that it measures the query, not the rate limit. Linux routes all of 127.0.0.0/8 to loopback.
 */
export class LoopbackClients {
  private readonly agents: Agent[];
  private next = 0;
  rateLimited = 0;

  constructor(
    private readonly port: number,
    addresses: number,
    private readonly token = ADMIN_TOKEN,
  ) {
    this.agents = Array.from({ length: addresses }, (_, i) => new Agent({ keepAlive: true, maxSockets: 4, localAddress: `127.0.${Math.floor((i + 2) / 256)}.${(i + 2) % 256}` } as ConstructorParameters<typeof Agent>[0]));
  }

  /** GET `path`; the status and the parsed JSON body. 429s are counted. */
  get(path: string): Promise<{ status: number; json: unknown }> {
    const agent = this.agents[this.next++ % this.agents.length]!;
    return new Promise((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: this.port, path, agent, headers: { authorization: `Bearer ${this.token}` } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          if (res.statusCode === 429) this.rateLimited++;
          const text = Buffer.concat(chunks).toString('utf8');
          try {
            resolve({ status: res.statusCode ?? 0, json: text ? JSON.parse(text) : null });
          } catch (err) {
            reject(err);
          }
        });
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end();
    });
  }

  close(): void {
    for (const a of this.agents) a.destroy();
  }
}
