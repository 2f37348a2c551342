import { pino, type Logger, type DestinationStream } from 'pino';

export type { Logger };

/** Fields that may hold a secret or a full phone number, wherever they appear. */
const REDACT = [
  'apiKey', '*.apiKey', 'authorization', '*.authorization', 'headers.authorization',
  '*.headers.authorization', 'req.headers.authorization', 'token', '*.token',
  'phone', '*.phone', 'phoneNumber', '*.phoneNumber', 'body.phoneNumber', '*.body.phoneNumber',
];

export function createLogger(level = 'info', destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      base: { pid: process.pid },
      redact: { paths: REDACT, censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    destination ?? pino.destination(2),
  );
}

/** "+61412345678" → "+614•••••678": enough to tell numbers apart in a log, not to dial. */
export function maskPhone(phone: string): string {
  if (phone.length <= 6) return '•'.repeat(phone.length);
  return phone.slice(0, 4) + '•'.repeat(phone.length - 7) + phone.slice(-3);
}
