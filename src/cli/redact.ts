// Secrets never printed: passwords in URLs become ***, and the values of secret-bearing keys of a record are
// hidden (ferry status, info, logs, error lines).
export { redactText, redactUrl, redacted } from '../meta/urls.js';
