import type { IncomingMessage } from 'node:http';
import { createServer as createHttpServer, type Server as HttpServer, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { createServer as createTcpServer, type AddressInfo, type Server as TcpServer } from 'node:net';
import type { Duplex } from 'node:stream';
import { createServer as createTlsServer } from 'node:tls';
import type { TlsFiles } from '../lib/tls.js';
import { WebSocketServer, createWebSocketStream } from 'ws';

export type OnConnection = (stream: Duplex, remote: string | undefined, req?: IncomingMessage) => void;

export interface Listener {
  port: number;
  /** Stops accepting; open connections are the caller's to close. */
  close(): Promise<void>;
}

function listenOn(server: TcpServer | HttpServer, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

function closeServer(server: TcpServer | HttpServer): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

export async function listenTcp(host: string, port: number, onConnection: OnConnection): Promise<Listener> {
  const server = createTcpServer((socket) => {
    socket.setNoDelay(true);
    onConnection(socket, socket.remoteAddress, undefined);
  });
  const real = await listenOn(server, host, port);
  return { port: real, close: () => closeServer(server) };
}

/** A TLS handshake not done by then is dropped, as a connection without CONNECT is (Node's default is 120 s). */
const TLS_HANDSHAKE_TIMEOUT_MS = 10_000;

/** MQTT over TLS: the same broker behind a TLS handshake (a failed handshake just closes that socket). */
export async function listenTls(host: string, port: number, tls: TlsFiles, onConnection: OnConnection): Promise<Listener> {
  const server = createTlsServer({ cert: tls.cert, key: tls.key, handshakeTimeout: TLS_HANDSHAKE_TIMEOUT_MS }, (socket) => {
    socket.setNoDelay(true);
    onConnection(socket, socket.remoteAddress, undefined);
  });
  const real = await listenOn(server, host, port);
  return { port: real, close: () => closeServer(server) };
}

/**
 * MQTT over WebSocket at `/mqtt` (CONTRACT), over TLS (wss) when `tls` is given. `maxPayload`
 * bounds one WebSocket message, which ws buffers whole before we see a byte of it; anything else on
 * the HTTP server is a 404.
 */
export async function listenWs(host: string, port: number, maxPayload: number, onConnection: OnConnection, onOversize: (remote: string | undefined) => void, tls?: TlsFiles): Promise<Listener> {
  const notFound = (_req: IncomingMessage, res: ServerResponse) => res.writeHead(404).end();
  const http: HttpServer = tls ? createHttpsServer({ cert: tls.cert, key: tls.key, handshakeTimeout: TLS_HANDSHAKE_TIMEOUT_MS }, notFound) : createHttpServer(notFound);
  const wss = new WebSocketServer({ server: http, path: '/mqtt', maxPayload });
  wss.on('connection', (ws, req) => {
    const remote = req.socket.remoteAddress;
    const stream = createWebSocketStream(ws);
    ws.on('error', (err: Error & { code?: string }) => {
      // not when the packet scanner already closed this connection for the same packet
      if (err.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH' && !stream.destroyed) onOversize(remote);
    });
    onConnection(stream, remote, req);
  });
  const real = await listenOn(http, host, port);
  return {
    port: real,
    close: async () => {
      wss.close();
      const closed = closeServer(http);
      http.closeAllConnections();
      await closed;
    },
  };
}
