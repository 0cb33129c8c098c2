import { loadSettings } from '../shared/config';

// The first import of every function file. The worker loads the files package.json `main` names in an
// order nothing promises (local/functionFiles.ts), so whichever comes first runs this: a missing or
// invalid setting stops the worker at start-up with a message naming each one, before any function is
// registered, instead of failing on the first request. Later files find it done (modules load once).
loadSettings(process.env);
