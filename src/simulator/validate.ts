import type { NewCall } from './calls.js';
import type { CustomVariable } from './types.js';

/** E.164 as the simulator enforces it. */
export const E164 = /^\+[1-9]\d{6,14}$/;

export type Checked<T> = { ok: T } | { error: string };

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

// Messages name the field but never echo its value: a client may log them.
export function checkCallBody(body: unknown): Checked<NewCall> {
  if (!isObject(body)) return { error: 'body must be a JSON object' };
  const { assistant_id, name, phoneNumber, customVariables } = body;
  if (typeof assistant_id !== 'string' || assistant_id.trim() === '') {
    return { error: 'assistant_id is required and must be a non-empty string' };
  }
  if (phoneNumber === undefined || phoneNumber === null || phoneNumber === '') return { error: 'phoneNumber is required' };
  if (typeof phoneNumber !== 'string' || !E164.test(phoneNumber)) {
    return { error: 'phoneNumber must be an E.164 number such as +61412345678' };
  }
  // null is treated as absent, as a typical JSON API with optional fields does.
  if (name !== undefined && name !== null && typeof name !== 'string') return { error: 'name must be a string' };
  const vars: CustomVariable[] = [];
  if (customVariables !== undefined && customVariables !== null) {
    if (!Array.isArray(customVariables)) return { error: 'customVariables must be an array of {key, value}' };
    for (let i = 0; i < customVariables.length; i++) {
      const v: unknown = customVariables[i];
      if (!isObject(v)) return { error: `customVariables[${i}] must be an object {key, value}` };
      if (typeof v.key !== 'string' || v.key === '') return { error: `customVariables[${i}].key must be a non-empty string` };
      if (typeof v.value !== 'string') return { error: `customVariables[${i}].value must be a string` };
      vars.push({ key: v.key, value: v.value });
    }
  }
  return { ok: { assistant_id, name: typeof name === 'string' ? name : null, phoneNumber, customVariables: vars } };
}

export interface SmsBody {
  content: string;
  instructions: string;
}

export function checkActionBody(body: unknown): Checked<SmsBody> {
  if (!isObject(body)) return { error: 'body must be a JSON object' };
  const sms = body.SEND_SMS;
  if (!isObject(sms)) return { error: 'SEND_SMS is required and must be an object {content, instructions}' };
  if (typeof sms.content !== 'string' || sms.content.trim() === '') return { error: 'SEND_SMS.content is required and must be a non-empty string' };
  if (typeof sms.instructions !== 'string' || sms.instructions.trim() === '') {
    return { error: 'SEND_SMS.instructions is required and must be a non-empty string' };
  }
  return { ok: { content: sms.content, instructions: sms.instructions } };
}

export interface AttachBody {
  assistant_id: string;
  actions: string[];
}

export function checkAttachBody(body: unknown): Checked<AttachBody> {
  if (!isObject(body)) return { error: 'body must be a JSON object' };
  const { assistant_id, actions } = body;
  if (typeof assistant_id !== 'string' || assistant_id.trim() === '') {
    return { error: 'assistant_id is required and must be a non-empty string' };
  }
  if (!Array.isArray(actions) || actions.length === 0 || !actions.every((a) => typeof a === 'string' && a !== '')) {
    return { error: 'actions must be a non-empty array of action ids' };
  }
  return { ok: { assistant_id, actions: actions as string[] } };
}
