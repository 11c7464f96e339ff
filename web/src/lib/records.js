// The CRM record objects (docs/RECORDS.md): paths, field labels and options in the
// user's language, the body of a write, and versioned writes (If-Match).
import { api, ifMatch, queryString } from './api'
import { ApiError, errorText } from './errors'
import { i18n } from './i18n'

export const OBJECTS = ['customers', 'contacts', 'leads', 'opportunities', 'activities', 'tasks']
export const ACTIONS = ['read', 'create', 'update', 'delete', 'export']
export const FIELD_TYPES = ['text', 'textarea', 'number', 'money', 'date', 'datetime', 'bool', 'select', 'multiselect', 'user', 'phone', 'email', 'url']

// Tasks have an assignee where the other objects have an owner.
export const ownerKeyOf = (object) => (object === 'tasks' ? 'assignee_id' : 'owner_id')

// Keys the API keeps itself: never offered in a form.
const SYSTEM_KEYS = new Set([
  'id', 'version', 'created_at', 'updated_at', 'created_by', 'deleted_at', 'tags', 'custom',
  'in_pool', 'last_followed_at', 'closed_at', 'converted_at', 'summary',
])
export const isSystemField = (f) => SYSTEM_KEYS.has(f.key) || !!(f.system || f.readonly)
export const isReadOnly = (f) => isSystemField(f) || f.read_only === true || f.access === 'read_only'

// Core keys that point at other records or catalogs get a picker of their own.
const REF_KINDS = {
  owner_id: 'user', assignee_id: 'user', created_by: 'user',
  customer_id: 'customer', contact_id: 'contact', lead_id: 'lead', opportunity_id: 'opportunity',
  pipeline_id: 'pipeline', stage_id: 'stage',
}
const TARGET_KINDS = { customers: 'customer', contacts: 'contact', leads: 'lead', opportunities: 'opportunity' }
// The kind of input and display of a field: one of FIELD_TYPES or a reference kind
// (the catalog types references "ref" with a `target` object).
export function kindOf(field) {
  if (field.type === 'ref' && TARGET_KINDS[field.target]) return TARGET_KINDS[field.target]
  if (field.core && REF_KINDS[field.key]) return REF_KINDS[field.key]
  return FIELD_TYPES.includes(field.type) ? field.type : 'text'
}

// The customer a record belongs to, as a field for FieldValue (shown by name, linked).
export const CUSTOMER_FIELD = { key: 'customer_id', core: true, type: 'number' }

export const valueOf = (record, field) => (field.core ? record?.[field.key] : record?.custom?.[field.key])

// { key: value } of a form → the body of a POST/PATCH: custom fields go in `custom`.
export function toBody(values, fields) {
  const byKey = new Map(fields.map((f) => [f.key, f]))
  const body = {}
  for (const [key, v] of Object.entries(values)) {
    const f = byKey.get(key)
    if (f && !f.core) (body.custom ||= {})[key] = normalize(f, v)
    else body[key] = f ? normalize(f, v) : v
  }
  return body
}
function normalize(f, v) {
  if (v === '' || v === undefined) return null
  if (kindOf(f) === 'money' && v !== null) {
    const n = String(v).replace(/[,\s¥]/g, '')
    return /^-?\d+(\.\d+)?$/.test(n) ? Number(n).toFixed(2) : n
  }
  return v
}

// Label of a field: core fields in the UI language, custom fields as their admin named them.
export function fieldLabel(object, field) {
  const { t, te } = i18n.global
  if (field.core) {
    if (te(`fieldNames.${object}.${field.key}`)) return t(`fieldNames.${object}.${field.key}`)
    if (te(`fieldNames.${field.key}`)) return t(`fieldNames.${field.key}`)
  }
  return field.label || field.key
}

// Options of a select as [{value, label}]: the API may send strings or {value, label}.
export function optionsOf(object, field) {
  return (field.options || []).map((o) => {
    const value = typeof o === 'object' && o !== null ? o.value ?? o.key : o
    const label = typeof o === 'object' && o !== null ? o.label ?? value : o
    return { value, label: field.core ? enumLabel(object, field.key, value, label) : String(label) }
  })
}

// Core keys whose values are a fixed set shown in the UI language.
export const ENUM_KEYS = ['status', 'kind', 'level', 'source', 'channel', 'industry', 'currency', 'priority']

// A core enumeration value in the UI language (lead status, activity kind…).
export function enumLabel(object, key, value, fallback) {
  const { t, te } = i18n.global
  if (te(`enums.${object}.${key}.${value}`)) return t(`enums.${object}.${key}.${value}`)
  if (te(`enums.${key}.${value}`)) return t(`enums.${key}.${value}`)
  return fallback === undefined || fallback === null ? String(value ?? '—') : String(fallback)
}

// Section titles of a layout: known ones translated, others as named.
export function sectionLabel(name) {
  const { t, te } = i18n.global
  return te(`sections.${name}`) ? t(`sections.${name}`) : name
}

// The fields of a catalog grouped by its layout; fields outside the layout go last.
export function sectionsOf(catalog, { omit = [], includeSystem = false } = {}) {
  if (!catalog) return []
  const byKey = new Map(catalog.data.map((f) => [f.key, f]))
  const keep = (f) => f && !omit.includes(f.key) && (includeSystem || !isSystemField(f))
  const used = new Set()
  const out = []
  for (const s of catalog.layout || []) {
    const fields = (s.fields || []).map((k) => byKey.get(k)).filter(keep)
    fields.forEach((f) => used.add(f.key))
    if (fields.length) out.push({ name: s.section, fields })
  }
  const rest = catalog.data
    .filter((f) => !used.has(f.key) && keep(f))
    .sort((a, b) => (a.position ?? 0) - (b.position ?? 0))
  if (rest.length) out.push({ name: out.length ? 'other' : 'basic', fields: rest })
  return out
}

export const recordTitle = (rec) => rec?.name || rec?.subject || rec?.title || (rec?.id ? `#${rec.id}` : '—')

// Where a record opens: customers have their 360° page, the others a record page.
export function recordRoute(object, id) {
  return object === 'customers' ? { name: 'customer', params: { id } } : { name: 'record', params: { object, id } }
}

// List path builder for useList / fetchAll.
export const listPath = (object, params) => (cursor) => `/${object}${queryString({ ...params, cursor })}`

export const getRecord = (object, id) => api.get(`/${object}/${id}`)
export const createRecord = (object, body) => api.post(`/${object}`, body)
export const patchRecord = (object, rec, body) => api.patch(`/${object}/${rec.id}`, body, ifMatch(rec.version))
export const deleteRecord = (object, rec) => api.del(`/${object}/${rec.id}`, ifMatch(rec.version))
export const restoreRecord = (object, id) => api.post(`/${object}/${id}/restore`, {})

// A versioned write refused because the record changed meanwhile (412 version_conflict).
export const isConflict = (e) => e instanceof ApiError && (e.status === 412 || e.code === 'version_conflict')

// After a failed write: a conflict is announced and `reload` brings the record as it
// now is; any other error is shown as it is.
export function showWriteError(e, reload) {
  if (isConflict(e)) {
    ElMessage.warning({ message: i18n.global.t('records.conflictReloaded'), duration: 5000 })
    reload?.()
  } else {
    ElMessage.error(errorText(e))
  }
}

// Times for presets of new activities and tasks, as RFC 3339 UTC without milliseconds.
const rfc3339 = (d) => d.toISOString().replace(/\.\d{3}Z$/, 'Z')
export const nowIso = () => rfc3339(new Date())
export function tomorrowAt(hour = 9) {
  const d = new Date()
  d.setDate(d.getDate() + 1)
  d.setHours(hour, 0, 0, 0)
  return rfc3339(d)
}

// The user's day and week as UTC instants for list filters: { today, tomorrow } (the
// midnights that start the day of `d` and the next), and the Monday that starts the week.
export function dayBounds(d = new Date()) {
  const today = new Date(d)
  today.setHours(0, 0, 0, 0)
  const tomorrow = new Date(today)
  tomorrow.setDate(tomorrow.getDate() + 1)
  return { today: today.toISOString(), tomorrow: tomorrow.toISOString() }
}
export function weekStart(d = new Date()) {
  const monday = new Date(d)
  monday.setHours(0, 0, 0, 0)
  monday.setDate(monday.getDate() - ((monday.getDay() + 6) % 7))
  return monday.toISOString()
}
