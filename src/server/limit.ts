import { PassThrough, type Readable } from 'node:stream';
import { HttpError } from './errors.js';

export class UploadTooLarge extends HttpError {
  constructor(limitBytes: number) {
    super(413, `upload is larger than the limit of ${formatBytes(limitBytes)} (DIALER_UPLOAD_LIMIT_MB / --upload-limit-mb)`);
  }
}

export function formatBytes(n: number): string {
  return n >= 1024 * 1024 ? `${Math.round((n / 1024 / 1024) * 10) / 10} MB` : `${n} bytes`;
}

/**
 * Passes an upload on to the loader with backpressure, failing it with a 413
 * past `limitBytes`. When the loader stops early (a CSV error half-way), the
 * rest of the upload is read and thrown away instead of cutting the
 * connection, so the client still gets to read our 400; past the limit it is
 * cut after all. A client that goes away mid-upload fails the load (which
 * then rolls back) rather than ending it as if the file were complete.
 */
export function limitedCopy(source: Readable, limitBytes: number): PassThrough {
  const out = new PassThrough();
  let seen = 0;
  let ended = false;
  const onData = (chunk: Buffer) => {
    seen += chunk.length;
    if (seen > limitBytes) {
      source.off('data', onData);
      out.destroy(new UploadTooLarge(limitBytes));
      return;
    }
    if (!out.write(chunk)) source.pause();
  };
  const discard = (chunk: Buffer) => {
    seen += chunk.length;
    if (seen > limitBytes) {
      source.off('data', discard);
      source.destroy();
    }
  };
  out.on('drain', () => source.resume());
  source.on('data', onData);
  source.on('end', () => {
    ended = true;
    out.end();
  });
  source.on('error', (e) => out.destroy(e));
  source.on('close', () => {
    if (!ended) out.destroy(new Error('the upload ended early (client disconnected?)'));
  });
  out.on('close', () => {
    if (ended || source.destroyed) return;
    source.off('data', onData);
    if (seen > limitBytes) {
      // Over the limit: stop reading; the 413 goes out with Connection: close.
      source.pause();
      return;
    }
    source.on('data', discard);
    source.resume();
  });
  return out;
}
