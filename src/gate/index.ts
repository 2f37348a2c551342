/**
 * May we call this person now? Everything that answers it lives in this folder:
 * consent, erasure on request, the suppression lists, the calling window and the
 * cross-campaign frequency cap. `createLoadScreen` applies what can be decided once
 * per row at load; `createDialGate` applies all of it immediately before each POST.
 */
export { createDialGate } from './gate.js';
export { createLoadScreen, createCheckScreen, chainScreens, privacyScreen } from './screen.js';
export { windowDecision } from './window.js';
export type { DialGate, GateResult, Screen } from './types.js';
export { consentGate, consentScreen, hasConsent } from './consent.js';
export { ERASED_REASON, erasedGate, erasedScreen } from './erasure.js';
export { addToSuppression, addManyToSuppression, removeFromSuppression, isSuppressed, listSuppression, campaignSuppression } from './suppression.js';
export { reserveFrequency, recentCalls, FREQUENCY_WINDOW_MS, type FrequencyResult } from './frequency.js';
export { readNumbersFile, type NumbersFile } from './numbers-file.js';
export { importSuppression, problemText, type ImportProblem, type ImportSummary } from './suppression-import.js';
export { ScreenMembership } from './membership.js';
export { rowZones, resolveRowZones, zoneLabel } from './zone.js';
