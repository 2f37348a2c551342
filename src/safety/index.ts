/** Around the gate: spotting an opt-out in a finished call, and the `dialer windows` report. */
export { detectOptOut, type CallDetailsLike } from './optout.js';
export { windowsReport, type WindowsReport, type WindowRow } from './report.js';
