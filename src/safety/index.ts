/**
 * Dial safety (issue 8): calling windows, suppression and the frequency cap, composed
 * into the worker's pre-POST gate and the loader's screen.
 */
export { createDialGate, createLoadScreen, windowDecision, type Screen } from './gate.js';
export { detectOptOut, type CallDetailsLike } from './optout.js';
export { addToSuppression, addManyToSuppression, removeFromSuppression, isSuppressed, listSuppression, campaignSuppression } from './suppression.js';
export { reserveFrequency, recentCalls, FREQUENCY_WINDOW_MS, type FrequencyResult } from './frequency.js';
export { readNumbersFile, type NumbersFile } from './numbers-file.js';
export { rowZones, resolveRowZones, zoneLabel } from './zone.js';
export { windowsReport, type WindowsReport, type WindowRow } from './report.js';
