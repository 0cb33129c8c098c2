import { loadSettings } from '../shared/config';

// Imported first by functions/index.ts: a missing or invalid setting stops the worker at start-up with
// a message naming each one, instead of failing on the first request.
loadSettings(process.env);
