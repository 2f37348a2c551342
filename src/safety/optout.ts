/**
 * Did the person ask not to be called again? Read from what the API says about a
 * finished call: its end reason ("customer-requested-dnc"), summary ("Caller asked to
 * be put on the do-not-call list") or transcript ("stop calling me").
 *
 * Errs on suppressing: a false positive costs one contact, a false negative calls
 * someone who said stop. The one exception is the assistant's own lines in a
 * transcript with speaker labels: a scripted "you can opt out at any time" is not the
 * person opting out.
 */

/** A CallDetails from the API client, or the row patch the poller writes (snake_case); non-strings are ignored. */
export interface CallDetailsLike {
  endedReason?: unknown;
  ended_reason?: unknown;
  summary?: unknown;
  transcript?: unknown;
}

const text = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

const OPT_OUT = new RegExp(
  [
    String.raw`\bdo[\s_-]*not[\s_-]*call\b`,
    String.raw`\bdnc\b`,
    String.raw`\b(?:don'?t|dont|never)\s+(?:ever\s+)?call\s+(?:me|us|here|this\s+number|again|back)\b`,
    String.raw`\bopt(?:s|ed|ing)?[\s_-]*out\b`,
    String.raw`\bunsubscrib`,
    String.raw`\bstop\s+(?:calling|ringing|contacting)\b`,
    String.raw`\b(?:remove|take)\s+(?:me|my\s+number|us)\s+(?:off|from)\b`,
  ].join('|'),
  'i',
);

/** "AI: …", "Assistant: …", "bot: …", "Agent: …" lines: the caller's side, not the person's. */
const ASSISTANT_LINE = /^\s*\[?(?:ai|assistant|bot|agent)\]?\s*[:>-]/i;
const SPEAKER_LINE = /^\s*\[?[a-z][a-z ]{0,20}\]?\s*:/i;

function transcriptOptOut(text: string): boolean {
  const lines = text.split(/\r?\n/);
  const labelled = lines.some((l) => ASSISTANT_LINE.test(l));
  if (!labelled) return OPT_OUT.test(text);
  // Labelled transcript: look at every line that is not the assistant's (unlabelled
  // continuation lines belong to the last speaker).
  let assistant = false;
  for (const line of lines) {
    if (ASSISTANT_LINE.test(line)) assistant = true;
    else if (SPEAKER_LINE.test(line)) assistant = false;
    if (!assistant && OPT_OUT.test(line)) return true;
  }
  return false;
}

export function detectOptOut(details: CallDetailsLike | null | undefined): boolean {
  if (!details) return false;
  const reason = text(details.endedReason) ?? text(details.ended_reason);
  if (reason && OPT_OUT.test(reason.replace(/[_-]+/g, ' '))) return true;
  const summary = text(details.summary);
  if (summary && OPT_OUT.test(summary)) return true;
  const transcript = text(details.transcript);
  return transcript !== undefined && transcriptOptOut(transcript);
}
