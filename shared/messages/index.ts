/**
 * Message content Flowkeeper holds: encrypted message documents in the subject's partition (the
 * `encrypted` mode's store, and the `hubspot` mode's waiting room), how they are read back decrypted
 * (the admin API, the access export) and how messages Flowkeeper sends are recorded. See docs/hubspot.md.
 */
export * from './messageStore';
export * from './storedMessages';
export * from './outbound';
