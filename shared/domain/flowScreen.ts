/**
 * Flow screen ids are identifiers (WELCOME, PRICING_2). A screen name arrives from outside (a flow's
 * answers, a client), so anything that is not such an identifier, or that holds a long digit run (a
 * phone number), is stored and shown as `(other)`: it becomes an audit detail and a metric dimension.
 */
export function safeScreen(screen: string | undefined): string | undefined {
  if (screen === undefined) return undefined;
  const trimmed = screen.trim();
  if (trimmed === '') return undefined;
  if (!/^[A-Za-z][A-Za-z0-9_]{0,63}$/.test(trimmed) || /\d{5,}/.test(trimmed)) return '(other)';
  return trimmed;
}
