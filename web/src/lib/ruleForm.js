// Automation rules (docs/AUTOMATION.md "Rules") in the editor's terms: what a rule of
// each object may use (triggers, fields, operators, actions), and a stored rule turned
// into the editor's form and back into the body the API takes. The form keeps every
// condition and action in the rule's order, so a 422 that names a part
// ("conditions.all[1].any[0].field", "actions[2].to") finds it in the form.
import { emailContentBody, emailContentForm } from '@/lib/emailContent'
import { isReadOnly, kindOf } from './records'

const TRIGGER_TYPES = ['created', 'updated', 'field_changed', 'date_offset', 'no_activity', 'anniversary']
// The sweep looks for customers without follow-up only.
export const triggerTypesFor = (object) => TRIGGER_TYPES.filter((type) => type !== 'no_activity' || object === 'customers')

const ACTION_TYPES = ['notify', 'assign', 'create_task', 'set_field', 'add_tag', 'add_score', 'webhook', 'email', 'enroll']
export const ASSIGN_STRATEGIES = ['member', 'round_robin', 'least_loaded']
export const MAX_ACTIONS = 20
export const MAX_DEPTH = 5 // groups nested in groups, the API's limit

// The linked records an action may work on instead of the rule's own (`on`): a
// customer, lead or opportunity the record points at with <singular>_id.
const LINK_KEYS = { customers: 'customer_id', leads: 'lead_id', opportunities: 'opportunity_id' }
export function linkedObjects(object, fields) {
  return Object.entries(LINK_KEYS)
    .filter(([target, key]) => target !== object && fields.some((f) => f.core && f.key === key))
    .map(([target]) => target)
}

// The actions a rule of `object` may have: scores are a lead's (its own or a linked
// one), sequences enroll leads and contacts.
export function actionTypesFor(object, fields) {
  return ACTION_TYPES.filter((type) => {
    if (type === 'add_score') return object === 'leads' || linkedObjects(object, fields).includes('leads')
    if (type === 'enroll') return object === 'leads' || object === 'contacts'
    return true
  })
}

// ---- fields

// Fields every record has that the catalog does not list; conditions may use them.
const BOOKKEEPING_FIELDS = [
  { key: 'tags', core: true, type: 'multiselect' },
  { key: 'created_at', core: true, type: 'datetime' },
  { key: 'updated_at', core: true, type: 'datetime' },
  { key: 'created_by', core: true, type: 'user' },
]
// How a rule names a field: core fields by key, custom ones as "custom.<key>".
export const pathOf = (field) => (field.core ? field.key : `custom.${field.key}`)

const isDateKind = (field) => ['date', 'datetime'].includes(kindOf(field))
// The fields of an object (its catalog's `data`) a part of a rule may use:
// - condition: any field, the bookkeeping ones too;
// - change (a field_changed trigger): any field, and the tags;
// - date (date_offset, anniversary): date and time fields, the creation time too;
// - set (a set_field action): the fields a person may write.
export function ruleFields(fields, purpose) {
  switch (purpose) {
    case 'change': return [...fields, BOOKKEEPING_FIELDS[0]]
    case 'date': return [...fields, BOOKKEEPING_FIELDS[1]].filter(isDateKind)
    case 'set': return fields.filter((f) => !isReadOnly(f))
    default: return [...fields, ...BOOKKEEPING_FIELDS]
  }
}
export const fieldByPath = (fields, path) => ruleFields(fields, 'condition').find((f) => pathOf(f) === path) || null

// ---- conditions

// `empty` with false means "is not empty": the editor shows it as an operator of its own.
const TEXT_OPS = ['eq', 'ne', 'contains', 'in', 'empty', 'not_empty']
const ORDERED_OPS = ['eq', 'ne', 'gt', 'gte', 'lt', 'lte', 'in', 'empty', 'not_empty']
const CHOICE_OPS = ['eq', 'ne', 'in', 'empty', 'not_empty']
const OPS_BY_KIND = {
  number: ORDERED_OPS, money: ORDERED_OPS, date: ORDERED_OPS, datetime: ORDERED_OPS,
  bool: ['eq', 'ne'],
  multiselect: ['contains', 'empty', 'not_empty'],
  select: CHOICE_OPS, user: CHOICE_OPS, customer: CHOICE_OPS, contact: CHOICE_OPS, lead: CHOICE_OPS,
  opportunity: CHOICE_OPS, pipeline: CHOICE_OPS, stage: CHOICE_OPS,
}
export const operatorsFor = (field) => (field ? OPS_BY_KIND[kindOf(field)] || TEXT_OPS : TEXT_OPS)
export const needsValue = (op) => op !== 'empty' && op !== 'not_empty'

let uid = 0
const nextUid = () => ++uid
export const newCondition = () => ({ uid: nextUid(), field: '', op: 'eq', value: null })
export const newGroup = (mode = 'all') => ({ uid: nextUid(), mode, items: [] })
export const isGroup = (item) => Array.isArray(item.items)

function conditionToForm(c) {
  if (c.all || c.any) {
    const mode = c.all ? 'all' : 'any'
    return { uid: nextUid(), mode, items: c[mode].map(conditionToForm) }
  }
  const op = c.op || 'eq'
  if (op === 'empty') return { uid: nextUid(), field: c.field, op: c.value === false ? 'not_empty' : 'empty', value: null }
  return { uid: nextUid(), field: c.field, op, value: c.value ?? null }
}

// A time as the API stores it (UTC, "+00:00"): conditions compare times as text.
const utcText = (v) => new Date(v).toISOString().replace(/\.\d{3}Z$/, '+00:00')

function conditionToBody(item, fields) {
  if (isGroup(item)) return { [item.mode]: item.items.map((i) => conditionToBody(i, fields)) }
  if (!needsValue(item.op)) return { field: item.field, op: 'empty', value: item.op === 'empty' }
  // no value at all: left out, so that the API names the condition's missing value
  if (item.value === null || item.value === '' || (Array.isArray(item.value) && !item.value.length)) return { field: item.field, op: item.op }
  const kind = kindOf(fieldByPath(fields, item.field) || {})
  return { field: item.field, op: item.op, value: kind === 'datetime' ? utcText(item.value) : item.value }
}

// A group with nothing in it: "any" of nothing never holds, so the rule would never run.
export const hasEmptyGroup = (group) => group.items.some((i) => isGroup(i) && (!i.items.length || hasEmptyGroup(i)))

// The leaves of a condition tree (how many conditions a rule has).
export const countConditions = (c) => (c.all || c.any ? (c.all || c.any).reduce((n, i) => n + countConditions(i), 0) : 1)

// ---- actions

// A new action of a type, with the parameters it needs.
export function newAction(type, object) {
  const params = {
    notify: { to: 'owner', title: '' },
    assign: { strategy: 'round_robin', role: 'sales' },
    create_task: { subject: '', due_in_hours: 24 },
    set_field: { field: '', value: null },
    add_tag: { tag: '' },
    add_score: object === 'leads' ? { points: 10 } : { on: 'leads', points: 10 },
    webhook: { webhook: null },
    email: { to: 'owner', ...emailContentForm({}) },
    enroll: { sequence: null },
  }[type]
  return { uid: nextUid(), type, ...params }
}

// A stored action → the form's; an e-mail's words as emailContentForm keeps them.
const actionToForm = (action) => ({ uid: nextUid(), ...action, ...(action.type === 'email' ? emailContentForm(action) : {}) })

// The body of an action: the form's keys but its uid, without the optional ones left
// unset (no assignee: the owner; no hours: 24). A set_field value stays, even null:
// setting a field to nothing is a change of its own. Empty texts are sent, so that
// the API names a missing title or subject. An e-mail sends its template or its own
// words, never both.
function actionToBody({ uid: _uid, ...action }) {
  if (action.type === 'email') return { type: action.type, to: action.to, ...emailContentBody(action) }
  return Object.fromEntries(Object.entries(action).filter(([key, v]) => key === 'value' || (v !== null && v !== undefined)))
}

// ---- the whole rule

const TRIGGER_DEFAULTS = { field: '', to: null, hours: 24, before: false, days: 3, days_before: 3 }

export function newRuleForm(object = 'customers') {
  return {
    name: '', object, enabled: true,
    trigger: { type: 'created', ...TRIGGER_DEFAULTS },
    conditions: newGroup('all'),
    actions: [newAction('notify', object)],
  }
}

// A stored rule → the editor's form (date_offset hours as a number and a side).
export function ruleToForm(rule) {
  const t = rule.trigger || {}
  return {
    name: rule.name, object: rule.object, enabled: rule.enabled,
    trigger: {
      ...TRIGGER_DEFAULTS, ...t,
      to: t.to ?? null,
      hours: t.type === 'date_offset' ? Math.abs(t.hours) : TRIGGER_DEFAULTS.hours,
      before: t.type === 'date_offset' && t.hours < 0,
    },
    conditions: conditionToForm(rule.conditions?.all || rule.conditions?.any ? rule.conditions : { all: [] }),
    actions: (rule.actions || []).map(actionToForm),
  }
}

// The trigger's body: only the parameters of its type.
function triggerToBody(t) {
  switch (t.type) {
    case 'field_changed': return t.to === null || t.to === '' ? { type: t.type, field: t.field } : { type: t.type, field: t.field, to: t.to }
    case 'date_offset': return { type: t.type, field: t.field, hours: t.before ? -t.hours : t.hours }
    case 'no_activity': return { type: t.type, days: t.days }
    case 'anniversary': return { type: t.type, field: t.field, days_before: t.days_before }
    default: return { type: t.type }
  }
}

// The form → the body of POST /rules or PATCH /rules/{id}; `fields` is the object's
// catalog (how datetime values are sent).
export function ruleBody(form, fields) {
  return {
    name: form.name.trim(),
    object: form.object,
    enabled: form.enabled,
    trigger: triggerToBody(form.trigger),
    conditions: conditionToBody(form.conditions, fields),
    actions: form.actions.map(actionToBody),
  }
}

// ---- the parts a 422 names

// "conditions.all[1].any[0].field" → { area: 'conditions', position: [2, 1], key: 'field' }
// (positions from 1); "actions[2].to" → { area: 'actions', position: [3], key: 'to' };
// "trigger.days" → { area: 'trigger', position: [], key: 'days' }.
export function parsePath(path) {
  const [area] = path.split(/[.[]/)
  const position = [...path.matchAll(/\[(\d+)\]/g)].map((m) => Number(m[1]) + 1)
  const last = path.slice(area.length).replace(/^(\.(all|any))?(\[\d+\](\.(all|any))?)*\.?/, '')
  return { area, position, key: last || '' }
}
