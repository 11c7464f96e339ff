// CSV imports (POST /api/v1/imports, GET /api/v1/imports/{id}; docs/ENDPOINTS.md):
// the request, waiting for a queued import, the fields a column can go to, and the
// report's problems and the request's errors in the user's language.
import { api } from './api'
import { ApiError, errorText, reasonText } from './errors'
import { i18n } from './i18n'
import { fieldLabel } from './records'

export { IMPORT_OBJECTS } from '@/router'
export const MAX_FILE_BYTES = 20 * 1024 * 1024   // REQ_MAX_UPLOAD of crm-api
export const POLL_MS = 1000

// Sends the file (multipart): { object, encoding, mapping ({column: field}, or null
// for the API's own), dryRun, duplicates } → the import (201: done in the request;
// 202: queued, status "queued").
export function postImport(file, { object, encoding = 'auto', mapping = null, dryRun = false, duplicates = 'skip' }) {
  const body = new FormData()
  body.append('object', object)
  body.append('encoding', encoding)
  body.append('dry_run', dryRun ? 'true' : 'false')
  body.append('duplicates', duplicates)
  if (mapping) body.append('mapping', JSON.stringify(mapping))
  body.append('file', file, file.name)
  return api.post('/imports', body)
}

export const isFinished = (imp) => imp.status === 'done' || imp.status === 'failed'

// Polls a queued import until it is done (or failed), calling onProgress(import) on
// each answer; `cancelled()` true stops it (resolves null).
export async function waitForImport(imp, { onProgress = () => {}, cancelled = () => false } = {}) {
  let cur = imp
  onProgress(cur)
  while (!isFinished(cur)) {
    await new Promise((r) => setTimeout(r, POLL_MS))
    if (cancelled()) return null
    cur = await api.get(`/imports/${cur.id}`)
    if (cancelled()) return null
    onProgress(cur)
  }
  return cur
}

// The fields a column can go to: [{ value: 'name' | 'custom.key' | 'tags', label,
// required }] of the object's catalog (those the caller may write), tags last.
export function importTargets(object, catalog) {
  const { t } = i18n.global
  const out = (catalog?.data || [])
    .filter((f) => !f.system && !f.read_only)
    .map((f) => ({ value: f.core ? f.key : `custom.${f.key}`, label: fieldLabel(object, f), required: !!f.required }))
  out.push({ value: 'tags', label: t('records.tags'), required: false })
  return out
}

// A field of a row's problem (its key, custom ones without "custom.") by its label.
function fieldName(object, catalog, key) {
  if (key === 'tags') return i18n.global.t('records.tags')
  const f = (catalog?.data || []).find((x) => x.key === key || `custom.${x.key}` === key)
  return f ? fieldLabel(object, f) : key
}

// The report's bad rows as one line per problem: [{ key, line, row, field, reason }].
export function rowProblems(report, object, catalog) {
  const { t, te } = i18n.global
  const out = []
  for (const e of report?.errors || []) {
    const fields = Object.entries(e.fields || {})
    if (!fields.length) {
      const reason = te(`imports.codes.${e.code}`) ? t(`imports.codes.${e.code}`) : t('imports.codes.invalid_row')
      out.push({ key: `${e.row}`, line: e.line, row: e.row, field: '', reason })
    }
    for (const [key, why] of fields) {
      out.push({ key: `${e.row}:${key}`, line: e.line, row: e.row, field: fieldName(object, catalog, key), reason: reasonText(why) })
    }
  }
  return out
}

// The sentence for a refused import request: the file, its encoding, a malformed
// line (its number from the message), the mapping; else the usual error text.
export function importErrorText(e) {
  const { t, te } = i18n.global
  if (!(e instanceof ApiError)) return errorText(e)
  if (e.status === 413) return t('imports.errors.tooLarge')
  const [field, reason] = Object.entries(e.fields || {})[0] || []
  if (!field) return errorText(e)
  const why = String(reason).replace(/:.*$/, '')   // "unknown_field: custom.x"
  const key = `imports.errors.${field}.${why}`
  const line = /(\d+)/.exec(e.message || '')?.[1] || '?'
  return te(key) ? t(key, { line }) : errorText(e)
}
