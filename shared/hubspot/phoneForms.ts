import type { WaId } from '../domain/ids';

/**
 * Every form in which HubSpot may hold a WhatsApp number (wa_id digits, without '+'), for exact-match
 * search.
 *
 * Contacts reach a portal from people, imports, forms and other integrations, and the contacts OpenAPI
 * (github.com/HubSpot/HubSpot-public-api-spec-collection, `CRM/Contacts/Rollouts/424/v3/contacts.json`,
 * 2026-06-23) types `phone`, `mobilephone` and `hs_whatsapp_phone_number` as plain strings: nothing
 * promises that search normalises them. So Flowkeeper asks for each likely spelling with `IN` (exact,
 * case-insensitive) rather than a token or wildcard search, which would also match other people's
 * numbers.
 *
 * Forms: E.164 with and without '+', the `00` international prefix, `+CC NSN` and `+CC-NSN`; for the
 * countries whose national form starts with a trunk 0, `0NSN` and `+CC (0)NSN`; and the groupings people
 * type, with spaces and with dashes: the UK's (07700 900123, 07700 900 123, 020 7946 0123, 0121 496 0000),
 * North America's ((415) 555-2671, 415-555-2671, 415.555.2671, +1 415 555 2671) and France's pairs
 * (06 12 34 56 78), and a space after the country code with dashes between the groups (+44 7700-900123). Other countries' own groupings are not derived: a contact typed that way is found
 * only if the portal validates numbers (E.164) or the number also sits in another form.
 */
const TRUNK_ZERO = ['44', '49', '33', '31', '32', '41', '43', '46', '61', '64', '27', '353', '90', '92', '234', '254', '62', '66', '81', '82', '86', '39'];

export function phoneVariants(waId: WaId): string[] {
  const digits = String(waId);
  const forms = new Set<string>([`+${digits}`, digits, `00${digits}`]);
  if (digits.startsWith('1') && digits.length === 11) {
    const n = digits.slice(1);
    const [a, b, c] = [n.slice(0, 3), n.slice(3, 6), n.slice(6)];
    for (const f of [n, `(${a}) ${b}-${c}`, `${a}-${b}-${c}`, `${a}.${b}.${c}`, `${a} ${b} ${c}`, `+1 ${a}-${b}-${c}`, `+1 (${a}) ${b}-${c}`, `+1 ${a} ${b} ${c}`, `1-${a}-${b}-${c}`, `+1 ${n}`]) forms.add(f);
    return [...forms];
  }
  const cc = TRUNK_ZERO.filter((code) => digits.startsWith(code)).sort((x, y) => y.length - x.length)[0];
  if (!cc) return [...forms];
  const nsn = digits.slice(cc.length);
  const trunk = cc !== '39'; // Italy keeps its leading 0 inside the number: no trunk prefix to add
  forms.add(`+${cc} ${nsn}`);
  forms.add(`+${cc}-${nsn}`);
  if (trunk) {
    forms.add(`0${nsn}`);
    forms.add(`+${cc} (0)${nsn}`);
  }
  for (const groups of groupingsOf(cc, nsn)) {
    for (const sep of [' ', '-']) {
      const grouped = groups.join(sep);
      forms.add(`+${cc}${sep}${grouped}`);
      if (sep === '-') forms.add(`+${cc} ${grouped}`);
      if (trunk) forms.add(`0${grouped}`);
    }
    if (trunk) forms.add(`+${cc} (0)${groups.join(' ')}`);
  }
  return [...forms];
}

/** The national significant number split as people write it, per country (the first group carries the trunk 0 when written nationally). */
function groupingsOf(cc: string, nsn: string): string[][] {
  const split = (sizes: number[]): string[] => {
    const out: string[] = [];
    let at = 0;
    for (const size of sizes) {
      out.push(nsn.slice(at, at + size));
      at += size;
    }
    if (at < nsn.length) out.push(nsn.slice(at));
    return out.filter(Boolean);
  };
  if (cc === '44' && nsn.length === 10) {
    if (nsn.startsWith('7')) return [split([4, 6]), split([4, 3, 3])];
    if (nsn.startsWith('2')) return [split([2, 4, 4])];
    return [split([3, 3, 4]), split([4, 6])];
  }
  if (cc === '33' && nsn.length === 9) return [split([1, 2, 2, 2, 2])];
  return [split([3, 3])];
}
