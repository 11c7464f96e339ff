// API errors in the user's language, by their stable error code.
import { i18n } from './i18n'

export class ApiError extends Error {
  constructor(status, body, headers) {
    const err = (body && body.error) || {}
    super(err.message || `HTTP ${status}`)
    this.status = status
    this.code = err.code || (status === 0 ? 'network' : 'unknown')
    this.fields = err.fields || null
    this.details = err
    this.body = body
    this.retryAfter = headers ? Number(headers.get('Retry-After')) || null : null
  }
}

// The sentence to show for an error (any error, not only ApiError).
export function errorText(e) {
  const { t, te } = i18n.global
  if (!(e instanceof ApiError)) return t('errors.unknown')
  if (e.code === 'rate_limited' && e.retryAfter) {
    return t('errors.rate_limited_wait', { n: Math.ceil(e.retryAfter / 60) })
  }
  if (te(`errors.${e.code}`)) return t(`errors.${e.code}`)
  if (e.status >= 500) return t('errors.internal')
  return t('errors.unknown')
}

// A 422 reason ("required", "invalid_phone"…) as a sentence that names no field.
export function reasonText(reason) {
  const { t, te } = i18n.global
  return te(`fieldErrors.${reason}`) ? t(`fieldErrors.${reason}`) : t('fieldErrors.invalid_value')
}

// Field name → sentence, for a 422 validation_failed (shown under each input).
export function fieldErrors(e) {
  const out = {}
  if (!(e instanceof ApiError) || !e.fields) return out
  const { t, te } = i18n.global
  for (const [field, reason] of Object.entries(e.fields)) {
    const specific = `fieldErrors.${field}.${reason}`
    out[field] = te(specific) ? t(specific) : reasonText(reason)
  }
  return out
}
