import { Aedes } from 'aedes';
import { createServer, type AddressInfo } from 'node:net';

/**
 * The reference broker of the ingest and connection benchmarks: a bare Aedes, as its README
 * starts it (in-memory persistence, no authentication, no hooks), on a TCP port of 127.0.0.1 in
 * its own process. Prints `{"port":N}` once listening; SIGTERM stops it.
 * Usage: tsx bench/aedes-broker.ts [port]   (0 or none: a free port)
 */
const aedes = await Aedes.createBroker();
const server = createServer(aedes.handle);
server.listen(Number(process.argv[2] ?? 0), '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ port: (server.address() as AddressInfo).port, pid: process.pid })}\n`);
});
const stop = (): void => {
  server.close();
  aedes.close(() => process.exit(0));
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
