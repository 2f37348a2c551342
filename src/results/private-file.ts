import { mkdir, open, rename, rm } from 'node:fs/promises';
import path from 'node:path';

/**
 * Writes `lines` to `file` through a temporary file renamed into place, so a
 * reader never sees half a line and a crash leaves the previous file whole.
 * Mode 0600 (0700 for a new folder): these files hold personal data.
 */
export async function writePrivateFile(file: string, lines: AsyncIterable<string>, chunk = 1000): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.tmp-${process.pid}-${Date.now()}`;
  const fh = await open(tmp, 'w', 0o600);
  try {
    let buf: string[] = [];
    for await (const line of lines) {
      buf.push(line);
      if (buf.length >= chunk) {
        await fh.write(buf.join(''));
        buf = [];
      }
    }
    await fh.write(buf.join(''));
    await fh.sync();
    await fh.close();
  } catch (e) {
    await fh.close().catch(() => undefined);
    await rm(tmp, { force: true });
    throw e;
  }
  await rename(tmp, file);
}
