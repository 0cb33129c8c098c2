/**
 * The function app's entry point (package.json `main`). Each file below registers its own triggers with
 * `app.*`; the local host loads this same file, so both hosts serve the same functions.
 * Add one import line per function file.
 */
import './startupCheck';
import './health';
import './tenants';
import './whatsappWebhook';
import './mediaDownloads';
import './retentionSweep';
import './deadlineWatch';
import './whatsappFlows';
import './privacyRequests';
import './privacyRequestQueue';
import './erasureTasks';
import './privacyReconciler';
import './audit';
import './privacyMetrics';
import './deadLetters';
import './privacyRequestList';
import './hubspotSync';
import './messages';
