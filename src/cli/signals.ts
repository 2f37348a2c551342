import type { Logger } from '../log.js';

/**
 * Two-stage shutdown: the first SIGTERM/SIGINT drains, a second forces, a
 * third exits at once. Returns a function that removes the handlers.
 */
export function onSignals(handler: (count: number) => void, log: Logger): () => void {
  let count = 0;
  const on = (sig: NodeJS.Signals) => {
    count++;
    log.warn({ signal: sig, count }, count === 1 ? 'stopping: finishing in-flight work' : 'forcing stop');
    if (count >= 3) process.exit(130);
    handler(count);
  };
  process.on('SIGTERM', on);
  process.on('SIGINT', on);
  return () => {
    process.off('SIGTERM', on);
    process.off('SIGINT', on);
  };
}
