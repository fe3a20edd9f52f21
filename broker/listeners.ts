import type { IncomingMessage } from 'node:http';
import { createServer as createHttpServer, type Server as HttpServer, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { createServer as createTcpServer, type AddressInfo, type Server as TcpServer, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { createServer as createTlsServer } from 'node:tls';
import type { TlsFiles } from '../lib/tls.js';
import { WebSocketServer, createWebSocketStream } from 'ws';
import { readProxyHeader } from './proxy-header.js';

export type OnConnection = (stream: Duplex, remote: string | undefined, req?: IncomingMessage) => void;

/** With a PROXY protocol listener: a connection whose header is missing or bad (it is destroyed). */
export type OnBadProxyHeader = (remote: string | undefined, err: Error) => void;

/**
 * Hands each new socket on, after its PROXY header when `proxy` is set (with the client's
 * address from it), else at once with the socket's own address.
 */
function accepting(proxy: OnBadProxyHeader | undefined, next: (socket: Socket, remote: string | undefined) => void): { onSocket: (socket: Socket) => void; dropPending: () => void } {
  if (!proxy) return { onSocket: (socket) => next(socket, socket.remoteAddress), dropPending: () => {} };
  // sockets still before their header are nobody else's yet: closing the listener drops them
  const pending = new Set<Socket>();
  return {
    onSocket(socket) {
      pending.add(socket);
      readProxyHeader(socket).then((remote) => {
        pending.delete(socket);
        next(socket, remote);
      }, (err: Error) => {
        pending.delete(socket);
        proxy(socket.remoteAddress, err);
        socket.destroy();
      });
    },
    dropPending: () => {
      for (const s of pending) s.destroy();
    },
  };
}

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

export async function listenTcp(host: string, port: number, onConnection: OnConnection, proxy?: OnBadProxyHeader): Promise<Listener> {
  const sockets = accepting(proxy, (socket, remote) => {
    socket.setNoDelay(true);
    onConnection(socket, remote, undefined);
  });
  const server = createTcpServer(sockets.onSocket);
  const real = await listenOn(server, host, port);
  return {
    port: real,
    close: () => {
      const closed = closeServer(server);
      sockets.dropPending();
      return closed;
    },
  };
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
export async function listenWs(host: string, port: number, maxPayload: number, onConnection: OnConnection, onOversize: (remote: string | undefined) => void, tls?: TlsFiles, proxy?: OnBadProxyHeader): Promise<Listener> {
  const notFound = (_req: IncomingMessage, res: ServerResponse) => res.writeHead(404).end();
  const http: HttpServer = tls ? createHttpsServer({ cert: tls.cert, key: tls.key, handshakeTimeout: TLS_HANDSHAKE_TIMEOUT_MS }, notFound) : createHttpServer(notFound);
  const wss = new WebSocketServer({ server: http, path: '/mqtt', maxPayload });
  // behind a PROXY protocol proxy a plain TCP server takes the header off, then hands the socket to HTTP
  const proxied = new WeakMap<Socket, string | undefined>();
  const sockets = accepting(proxy, (socket, remote) => {
    proxied.set(socket, remote);
    http.emit('connection', socket);
    socket.resume(); // readProxyHeader left it paused with what followed the header put back
  });
  const front = proxy && createTcpServer(sockets.onSocket);
  wss.on('connection', (ws, req) => {
    const raw = req.socket as Socket & { _parent?: Socket };
    const remote = front ? proxied.get(raw) ?? proxied.get(raw._parent!) : req.socket.remoteAddress;
    const stream = createWebSocketStream(ws);
    ws.on('error', (err: Error & { code?: string }) => {
      // not when the packet scanner already closed this connection for the same packet
      if (err.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH' && !stream.destroyed) onOversize(remote);
    });
    onConnection(stream, remote, req);
  });
  const real = await listenOn(front ?? http, host, port);
  return {
    port: real,
    close: async () => {
      wss.close();
      const closed = closeServer(front ?? http);
      sockets.dropPending();
      http.closeAllConnections();
      await closed;
    },
  };
}
