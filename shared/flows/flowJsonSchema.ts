import { z } from 'zod';

/**
 * The structure of the Flow JSON that Flowkeeper ships, as Meta's Flow JSON reference documents it
 * (Flow JSON 7.x with data_api_version 3.0): screens with a `SingleColumnLayout` of documented components
 * and their required properties and limits, a routing model that matches the screens and the `navigate`
 * actions, and every dynamic `${data.x}` / `${form.x}` reference resolved on its own screen.
 *
 * It covers the components Flowkeeper's flows use (and a few close relatives), strictly: an unknown
 * property or component fails, so a typo is caught here rather than by Meta's publisher.
 */
export const FLOW_JSON_VERSIONS = ['7.0', '7.1', '7.2', '7.3'] as const;
export const DATA_API_VERSIONS = ['3.0'] as const;

const SCREEN_ID = /^[A-Za-z_]+$/;
const NAME = /^[A-Za-z0-9_]+$/;
const REFERENCE = /\$\{(data|form)\.([A-Za-z0-9_]+)\}/g;
const WHOLE_REFERENCE = /^\$\{(data|form)\.[A-Za-z0-9_]+\}$/;

const dynamic = z.string().regex(WHOLE_REFERENCE, 'must be a ${data.x} or ${form.x} reference');
const text = (max: number) => z.union([dynamic, z.string().min(1).max(max)]);
const bool = z.union([z.boolean(), dynamic]);

const payload = z.record(z.string().regex(NAME), z.unknown());
export const actionSchema = z.discriminatedUnion('name', [
  z.object({ name: z.literal('navigate'), next: z.object({ type: z.literal('screen'), name: z.string().regex(SCREEN_ID) }).strict(), payload: payload.optional() }).strict(),
  z.object({ name: z.literal('data_exchange'), payload: payload.optional() }).strict(),
  z.object({ name: z.literal('complete'), payload: payload.optional() }).strict(),
]);
export type FlowJsonAction = z.infer<typeof actionSchema>;

const option = z
  .object({
    id: z.string().min(1).max(100),
    title: z.string().min(1).max(30),
    description: z.string().max(300).optional(),
    metadata: z.string().max(20).optional(),
    enabled: z.boolean().optional(),
  })
  .strict();
const dataSource = z.union([dynamic, z.array(option).min(1).max(20)]);

const common = { visible: bool.optional() };
const input = { name: z.string().regex(NAME), required: bool.optional(), enabled: bool.optional(), ...common };

export const componentSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('TextHeading'), text: text(80), ...common }).strict(),
  z.object({ type: z.literal('TextSubheading'), text: text(80), ...common }).strict(),
  z.object({ type: z.literal('TextBody'), text: text(4096), 'font-weight': z.enum(['bold', 'italic', 'bold_italic', 'normal']).optional(), strikethrough: bool.optional(), markdown: z.boolean().optional(), ...common }).strict(),
  z.object({ type: z.literal('TextCaption'), text: text(4096), 'font-weight': z.enum(['bold', 'italic', 'bold_italic', 'normal']).optional(), strikethrough: bool.optional(), markdown: z.boolean().optional(), ...common }).strict(),
  z.object({ type: z.literal('TextInput'), label: text(20), 'input-type': z.enum(['text', 'number', 'email', 'password', 'passcode', 'phone']).optional(), 'helper-text': text(80).optional(), 'min-chars': z.number().int().optional(), 'max-chars': z.number().int().optional(), 'init-value': z.string().optional(), ...input }).strict(),
  z.object({ type: z.literal('TextArea'), label: text(20), 'helper-text': text(80).optional(), 'max-length': z.number().int().optional(), 'init-value': z.string().optional(), ...input }).strict(),
  z.object({ type: z.literal('RadioButtonsGroup'), label: text(30), 'data-source': dataSource, 'init-value': z.string().optional(), 'on-select-action': actionSchema.optional(), ...input }).strict(),
  z.object({ type: z.literal('CheckboxGroup'), label: text(30), 'data-source': dataSource, 'min-selected-items': z.number().int().min(0).optional(), 'max-selected-items': z.number().int().min(1).optional(), 'init-value': z.array(z.string()).optional(), 'on-select-action': actionSchema.optional(), ...input }).strict(),
  z.object({ type: z.literal('Dropdown'), label: text(20), 'data-source': dataSource, 'init-value': z.string().optional(), 'on-select-action': actionSchema.optional(), ...input }).strict(),
  z.object({ type: z.literal('OptIn'), label: text(120), 'on-click-action': actionSchema.optional(), 'init-value': z.boolean().optional(), ...input }).strict(),
  z.object({ type: z.literal('EmbeddedLink'), text: text(25), 'on-click-action': actionSchema, ...common }).strict(),
  z.object({ type: z.literal('Footer'), label: text(35), 'on-click-action': actionSchema, 'left-caption': text(15).optional(), 'center-caption': text(15).optional(), 'right-caption': text(15).optional(), enabled: bool.optional() }).strict(),
]);
export type FlowJsonComponent = z.infer<typeof componentSchema>;
const INPUT_TYPES = new Set(['TextInput', 'TextArea', 'RadioButtonsGroup', 'CheckboxGroup', 'Dropdown', 'OptIn']);

type DataDeclaration = { type: 'string' | 'number' | 'boolean' | 'object' | 'array'; items?: unknown; properties?: unknown; __example__?: unknown };
const dataDeclaration: z.ZodType<DataDeclaration> = z.lazy(() =>
  z
    .object({
      type: z.enum(['string', 'number', 'boolean', 'object', 'array']),
      items: dataDeclaration.optional(),
      properties: z.record(z.string(), dataDeclaration).optional(),
      __example__: z.unknown().optional(),
    })
    .strict(),
);

export const screenSchema = z
  .object({
    id: z.string().regex(SCREEN_ID, 'must be letters and underscores').refine((id) => id !== 'SUCCESS', 'SUCCESS is reserved'),
    title: z.string().min(1).max(60).optional(),
    terminal: z.boolean().optional(),
    success: z.boolean().optional(),
    refresh_on_back: z.boolean().optional(),
    sensitive: z.array(z.string()).optional(),
    data: z.record(z.string().regex(NAME), dataDeclaration).optional(),
    layout: z.object({ type: z.literal('SingleColumnLayout'), children: z.array(componentSchema).min(1).max(50) }).strict(),
  })
  .strict();
export type FlowJsonScreen = z.infer<typeof screenSchema>;

export const flowJsonSchema = z
  .object({
    version: z.enum(FLOW_JSON_VERSIONS, { error: `must be a current Flow JSON version (${FLOW_JSON_VERSIONS.join(', ')})` }),
    data_api_version: z.enum(DATA_API_VERSIONS),
    routing_model: z.record(z.string(), z.array(z.string()).max(10, 'a screen can have at most 10 routes')),
    screens: z.array(screenSchema).min(1),
  })
  .strict()
  .superRefine((flow, ctx) => {
    const issue = (path: (string | number)[], message: string) => ctx.addIssue({ code: 'custom', path, message });
    const ids = flow.screens.map((s) => s.id);
    const known = new Set(ids);
    ids.forEach((id, i) => ids.indexOf(id) !== i && issue(['screens', i, 'id'], `duplicate screen id ${id}`));

    // Routing model: every screen once, existing targets, no self routes, no cycles, all reachable.
    for (const id of ids) if (!(id in flow.routing_model)) issue(['routing_model'], `screen ${id} is missing from the routing model`);
    for (const [from, targets] of Object.entries(flow.routing_model)) {
      if (!known.has(from)) issue(['routing_model', from], `routing model names unknown screen ${from}`);
      for (const to of targets) {
        if (!known.has(to)) issue(['routing_model', from], `route to unknown screen ${to}`);
        if (to === from) issue(['routing_model', from], `screen ${from} routes to itself`);
      }
    }
    if (hasCycle(flow.routing_model)) issue(['routing_model'], 'the routing model must not have cycles (back navigation is implicit)');
    const entries = entryScreens(flow);
    if (entries.length === 0) issue(['routing_model'], 'no entry screen (every screen has an inbound route)');
    const reachable = reachableFrom(entries, flow.routing_model);
    for (const id of ids) if (!reachable.has(id)) issue(['routing_model'], `screen ${id} cannot be reached from an entry screen`);

    if (!flow.screens.some((s) => s.terminal)) issue(['screens'], 'at least one screen must be terminal');
    flow.screens.forEach((screen, i) => checkScreen(screen, flow.routing_model[screen.id] ?? [], (path, message) => issue(['screens', i, ...path], message)));
  });
export type FlowJson = z.infer<typeof flowJsonSchema>;

function checkScreen(screen: FlowJsonScreen, routes: string[], issue: (path: (string | number)[], message: string) => void): void {
  const children = screen.layout.children;
  const footers = children.filter((c) => c.type === 'Footer');
  if (footers.length > 1) issue(['layout', 'children'], 'a screen can have at most one Footer');
  if (screen.terminal && footers.length === 0) issue(['layout', 'children'], 'a terminal screen must have a Footer');
  if (screen.terminal && routes.length > 0) issue(['terminal'], 'a terminal screen cannot route further');

  const names = children.filter((c) => INPUT_TYPES.has(c.type)).map((c) => (c as { name: string }).name);
  names.forEach((name, i) => names.indexOf(name) !== i && issue(['layout', 'children'], `duplicate input name ${name}`));
  const declared = screen.data ?? {};
  for (const [field, declaration] of Object.entries(declared)) {
    if (declaration.__example__ === undefined) issue(['data', field], 'every declared field needs an __example__');
    else if (!matchesType(declaration, declaration.__example__)) issue(['data', field, '__example__'], `does not match the declared type ${declaration.type}`);
  }

  children.forEach((component, index) => {
    for (const [kind, name] of references(component)) {
      if (kind === 'data' && !(name in declared)) issue(['layout', 'children', index], `\${data.${name}} is not declared in the screen's data`);
      if (kind === 'form' && !names.includes(name)) issue(['layout', 'children', index], `\${form.${name}} names no input on this screen`);
    }
    const source = (component as { 'data-source'?: unknown })['data-source'];
    if (typeof source === 'string') {
      const field = /^\$\{data\.([A-Za-z0-9_]+)\}$/.exec(source)?.[1];
      if (!field || declared[field]?.type !== 'array') issue(['layout', 'children', index, 'data-source'], 'must reference an array declared in the screen data');
    }
    for (const action of actionsOf(component)) {
      if (action.name === 'navigate' && !routes.includes(action.next.name)) {
        issue(['layout', 'children', index], `navigate to ${action.next.name} is not in the routing model of ${screen.id}`);
      }
    }
  });
}

function references(value: unknown): [string, string][] {
  const found: [string, string][] = [];
  const walk = (v: unknown): void => {
    if (typeof v === 'string') for (const m of v.matchAll(REFERENCE)) found.push([m[1]!, m[2]!]);
    else if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === 'object') Object.values(v).forEach(walk);
  };
  walk(value);
  return found;
}

function actionsOf(component: FlowJsonComponent): FlowJsonAction[] {
  const c = component as { 'on-click-action'?: FlowJsonAction; 'on-select-action'?: FlowJsonAction };
  return [c['on-click-action'], c['on-select-action']].filter((a): a is FlowJsonAction => a !== undefined);
}

function matchesType(declaration: DataDeclaration, value: unknown): boolean {
  switch (declaration.type) {
    case 'string':
      return typeof value === 'string';
    case 'number':
      return typeof value === 'number';
    case 'boolean':
      return typeof value === 'boolean';
    case 'array':
      return Array.isArray(value) && (!declaration.items || value.every((v) => matchesType(declaration.items as DataDeclaration, v)));
    case 'object':
      return typeof value === 'object' && value !== null && !Array.isArray(value);
  }
}

export function entryScreens(flow: { screens: { id: string }[]; routing_model: Record<string, string[]> }): string[] {
  const targets = new Set(Object.values(flow.routing_model).flat());
  return flow.screens.map((s) => s.id).filter((id) => !targets.has(id));
}

function reachableFrom(starts: string[], routes: Record<string, string[]>): Set<string> {
  const seen = new Set<string>();
  const queue = [...starts];
  while (queue.length > 0) {
    const next = queue.shift()!;
    if (seen.has(next)) continue;
    seen.add(next);
    queue.push(...(routes[next] ?? []));
  }
  return seen;
}

function hasCycle(routes: Record<string, string[]>): boolean {
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (node: string): boolean => {
    if (state.get(node) === 'done') return false;
    if (state.get(node) === 'visiting') return true;
    state.set(node, 'visiting');
    const cyclic = (routes[node] ?? []).some(visit);
    state.set(node, 'done');
    return cyclic;
  };
  return Object.keys(routes).some(visit);
}

/**
 * Whether an endpoint response is one the client would accept for this flow: the target screen is the
 * same screen, a route of the routing model (data_exchange), an entry screen (INIT), a screen that leads
 * to the current one (BACK), or SUCCESS; and its data is exactly what the target screen declares.
 */
export function checkScreenResponse(
  flow: FlowJson,
  request: { action: 'INIT' | 'BACK' | 'data_exchange'; screen?: string },
  response: { screen: string; data: Record<string, unknown> },
): string[] {
  const problems: string[] = [];
  if (response.screen === 'SUCCESS') {
    const params = (response.data as { extension_message_response?: { params?: { flow_token?: unknown } } }).extension_message_response?.params;
    if (typeof params?.flow_token !== 'string') problems.push('SUCCESS needs data.extension_message_response.params.flow_token');
    return problems;
  }
  const target = flow.screens.find((s) => s.id === response.screen);
  if (!target) return [`unknown screen ${response.screen}`];
  const from = request.screen;
  const allowed =
    request.action === 'INIT'
      ? entryScreens(flow)
      : request.action === 'BACK'
        ? Object.keys(flow.routing_model).filter((id) => from !== undefined && reachableFrom([id], flow.routing_model).has(from))
        : [...(from ? [from] : []), ...(from ? (flow.routing_model[from] ?? []) : [])];
  if (!allowed.includes(response.screen)) problems.push(`${request.action} from ${from ?? '(start)'} cannot show ${response.screen}`);

  const declared = target.data ?? {};
  const isError = response.screen === from && 'error_message' in response.data;
  for (const [field, value] of Object.entries(response.data)) {
    if (field === 'error_message' && isError) continue;
    const declaration = declared[field];
    if (!declaration) problems.push(`${response.screen}: data.${field} is not declared`);
    else if (!matchesType(declaration, value)) problems.push(`${response.screen}: data.${field} is not a ${declaration.type}`);
  }
  if (!isError) for (const field of Object.keys(declared)) if (!(field in response.data)) problems.push(`${response.screen}: data.${field} is missing`);
  // Options handed to a RadioButtonsGroup / CheckboxGroup / Dropdown obey the same limits as static ones.
  for (const component of target.layout.children) {
    const source = (component as { 'data-source'?: unknown })['data-source'];
    const field = typeof source === 'string' ? /^\$\{data\.([A-Za-z0-9_]+)\}$/.exec(source)?.[1] : undefined;
    if (field && field in response.data && !z.array(option).min(1).max(20).safeParse(response.data[field]).success) {
      problems.push(`${response.screen}: data.${field} is not a valid data-source (1-20 options, title up to 30 characters)`);
    }
  }
  return problems;
}
