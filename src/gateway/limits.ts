// The gateway's limits on what a client may send and how slowly: the size of a request head, a client that
// does not finish its head (slow-loris) or stops in the middle of its body, and what node's HTTP parser
// refuses before the gateway sees a request. Each is answered with S3's own error document, where the
// connection still allows an answer, and a body that fails ends the write that was reading it (objects.ts
// then removes its temp file: no partial object is left).
import { STATUS_CODES, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { randomBytes } from 'node:crypto';
import { s3err, type S3Error } from './errors.js';
import { xmlDoc } from './xml.js';

export interface GatewayLimits {
  /** Largest header section (names and values, as S3 counts it: 8 KiB), bytes; 0: node's own limit only. */
  maxHeaderBytes: number;
  /** Seconds a client has to send a whole request head (slow-loris), then RequestTimeout. */
  headerTimeoutS: number;
  /** Seconds a request body may send nothing before RequestTimeout (S3 waits about 20); 0: no watch. */
  bodyTimeoutS: number;
}

export const DEFAULT_LIMITS: GatewayLimits = { maxHeaderBytes: 8192, headerTimeoutS: 30, bodyTimeoutS: 30 };

/** The limits given, the defaults for the others (an undefined one is not given). */
export function limitsOf(given: Partial<GatewayLimits> = {}): GatewayLimits {
  const l = { ...DEFAULT_LIMITS };
  for (const k of Object.keys(l) as Array<keyof GatewayLimits>) if (given[k] !== undefined) l[k] = given[k]!;
  return l;
}

/** Room for the request line (a 1024-byte key percent-encoded, a presigned query) on top of the header section. */
const REQUEST_LINE_ROOM = 16 * 1024;
/** How often node looks for connections past headerTimeout (its default, 30 s, would let a slow client stay 30 s longer). */
const CHECK_MS = 1000;
/** A request whose body the parser gave up on, not answered within this, loses its connection. */
const ANSWER_GRACE_MS = 10_000;

/** What a request's body watch needs: its idle timeout and a failure the HTTP layer found (a half-closed or broken body). */
interface Guard {
  idleMs: number;
  failure?: S3Error;
  wake?: () => void;
}

const guards = new WeakMap<IncomingMessage, Guard>();
/** The request being served on a socket, until its answer is finished. */
const serving = new WeakMap<Socket, { req: IncomingMessage; res: ServerResponse }>();

/** What node's HTTP layer reports (parser errors, its timeouts) as the S3 error a client is given. */
function clientErrorOf(e: Error & { code?: string }, limits: GatewayLimits): S3Error {
  switch (e.code) {
    case 'HPE_HEADER_OVERFLOW':
      return headerTooLarge(limits);
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return s3err('RequestTimeout');
    case 'HPE_INVALID_EOF_STATE':
      return s3err('IncompleteBody');
    default:
      return s3err('BadRequest', `An error occurred when parsing the HTTP request (${e.code ?? e.message}).`);
  }
}

function headerTooLarge(limits: GatewayLimits): S3Error {
  return s3err('RequestHeaderSectionTooLarge', undefined, { MaxSizeAllowed: String(limits.maxHeaderBytes) });
}

/** An S3 error document written straight to a socket that has no request object (the head never parsed). */
function writeRawError(socket: Socket, err: S3Error): void {
  const id = randomBytes(8).toString('hex').toUpperCase();
  const body = xmlDoc('Error', { Code: err.code, Message: err.message, ...err.extra, RequestId: id });
  socket.end(
    `HTTP/1.1 ${err.status} ${STATUS_CODES[err.status] ?? ''}\r\nContent-Type: application/xml\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
      `x-amz-request-id: ${id}\r\nx-amz-id-2: ${id}\r\nServer: FerryFS\r\nConnection: close\r\n\r\n${body}`,
  );
  socket.destroySoon();
}

/**
 * Applies the limits to the gateway's server: the head size and timeout in node's parser, and S3 answers to
 * what that parser refuses (node would answer a bare 400/408/431 or nothing). Call before it listens.
 */
export function hardenServer(server: Server, limits: GatewayLimits): void {
  server.headersTimeout = limits.headerTimeoutS * 1000;
  (server as { connectionsCheckingInterval?: number }).connectionsCheckingInterval = Math.min(CHECK_MS, server.headersTimeout || CHECK_MS);
  // Read by node at each connection.
  if (limits.maxHeaderBytes > 0) (server as { maxHeaderSize?: number }).maxHeaderSize = limits.maxHeaderBytes + REQUEST_LINE_ROOM;
  const track = (req: IncomingMessage, res: ServerResponse) => {
    const socket = req.socket;
    serving.set(socket, { req, res });
    guards.set(req, { idleMs: limits.bodyTimeoutS * 1000 });
    res.once('finish', () => serving.get(socket)?.req === req && serving.delete(socket));
  };
  // Before the gateway's own listeners: a request is tracked before anything reads its body.
  server.prependListener('request', track);
  server.prependListener('checkContinue', track);
  server.prependListener('checkExpectation', track);
  server.on('clientError', (e: Error & { code?: string }, socket: Socket) => {
    try {
      answerClientError(e, socket, limits);
    } catch {
      // Whatever went wrong answering, the connection is what goes: never the process.
      socket.destroy();
    }
  });
}

/** What node's parser refused: answered as S3 does, or passed to the request it broke (see hardenServer). */
function answerClientError(e: Error & { code?: string }, socket: Socket, limits: GatewayLimits): void {
  const current = serving.get(socket);
  if (e.code === 'ECONNRESET' || !socket.writable || (!current && e.code === 'HPE_INVALID_EOF_STATE')) {
    socket.destroy();
    return;
  }
  if (current?.req.complete) {
    // Bytes after a whole request (a body longer than its Content-Length): the next request is bad; it is
    // answered once the current one has been.
    const err = clientErrorOf(e, limits);
    current.res.once('finish', () => {
      try {
        if (socket.writable) writeRawError(socket, err);
      } catch {
        socket.destroy();
      }
    });
    current.res.once('close', () => socket.writable || socket.destroy());
    return;
  }
  if (current) {
    // The parser gave up in the middle of the body of a request being served (the client half-closed early,
    // broken chunked framing): the body fails with this error and the gateway answers it.
    if (current.res.headersSent) return void socket.destroy();
    const g = guards.get(current.req);
    if (g) {
      g.failure ??= clientErrorOf(e, limits);
      g.wake?.();
    }
    setTimeout(() => current.res.writableFinished || socket.destroy(), ANSWER_GRACE_MS).unref();
    return;
  }
  writeRawError(socket, clientErrorOf(e, limits));
}

/** RequestHeaderSectionTooLarge when the header section (as S3 counts it: names, values, separators) is over the limit. */
export function checkHeaderSection(req: IncomingMessage, limits: GatewayLimits): void {
  if (!limits.maxHeaderBytes) return;
  const raw = req.rawHeaders;
  let n = 0;
  for (let i = 0; i < raw.length; i++) n += raw[i]!.length + 2;
  if (n > limits.maxHeaderBytes) throw headerTooLarge(limits);
}

/** Whether the request's body stalled or was cut short (it will not arrive: nothing to wait for). */
export function bodyFailed(req: IncomingMessage): boolean {
  return guards.get(req)?.failure !== undefined;
}

/** Calls f when the HTTP layer finds the body broken or cut short (an error answer waiting for the body to drain). */
export function whenBodyFails(req: IncomingMessage, f: () => void): void {
  const g = guards.get(req);
  if (g) g.wake = f;
}

/**
 * The request body, failing with RequestTimeout when nothing arrives for the idle timeout, or with what the
 * HTTP layer found wrong with it (IncompleteBody for a client that half-closed early). Unlike a failed
 * stream iterator, it leaves the connection open, so the answer can still be sent.
 */
export function watchedBody(req: IncomingMessage): AsyncIterable<Buffer> {
  const g = guards.get(req);
  return g?.idleMs ? watch(req, g) : req;
}

async function* watch(req: IncomingMessage, g: Guard): AsyncGenerator<Buffer> {
  if (req.readableEnded) return;
  const queue: Buffer[] = [];
  let ended = false;
  let failure: Error | undefined;
  const poke = () => {
    const w = g.wake;
    g.wake = undefined;
    w?.();
  };
  const onData = (b: Buffer) => {
    queue.push(b);
    req.pause();
    poke();
  };
  const onEnd = () => ((ended = true), poke());
  const onError = (e: Error) => ((failure ??= e), poke());
  const onClose = () => {
    if (!req.complete) failure ??= Object.assign(new Error('aborted'), { code: 'ECONNRESET' });
    poke();
  };
  req.on('data', onData);
  req.on('end', onEnd);
  req.on('error', onError);
  req.on('close', onClose);
  let timer: NodeJS.Timeout | undefined;
  try {
    for (;;) {
      if (g.failure) throw g.failure;
      const b = queue.shift();
      if (b) {
        yield b;
        continue;
      }
      if (ended) return;
      if (failure) throw failure;
      req.resume();
      await new Promise<void>((resolve) => {
        g.wake = resolve;
        timer = setTimeout(() => {
          g.failure ??= s3err('RequestTimeout');
          poke();
        }, g.idleMs);
      });
      clearTimeout(timer);
    }
  } finally {
    clearTimeout(timer);
    g.wake = undefined;
    req.off('data', onData);
    req.off('end', onEnd);
    req.off('error', onError);
    req.off('close', onClose);
  }
}
