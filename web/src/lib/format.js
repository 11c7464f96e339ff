// Dates and numbers in the user's language (Intl, so no locale data to ship).
import { i18n } from './i18n'

const loc = () => i18n.global.locale.value

export function formatDateTime(value) {
  if (!value) return '—'
  const d = new Date(value)
  if (Number.isNaN(d.getTime())) return '—'
  return new Intl.DateTimeFormat(loc(), { dateStyle: 'medium', timeStyle: 'short' }).format(d)
}

export function formatDate(value) {
  if (!value) return '—'
  const d = new Date(value)
  if (Number.isNaN(d.getTime())) return '—'
  return new Intl.DateTimeFormat(loc(), { dateStyle: 'long' }).format(d)
}

export function formatNumber(n) {
  return new Intl.NumberFormat(loc()).format(n)
}

// "3 minutes ago" style, for session activity.
export function formatRelative(value) {
  if (!value) return '—'
  const diff = (new Date(value).getTime() - Date.now()) / 1000
  if (Number.isNaN(diff)) return '—'
  const rtf = new Intl.RelativeTimeFormat(loc(), { numeric: 'auto' })
  const abs = Math.abs(diff)
  if (abs < 60) return rtf.format(Math.round(diff), 'second')
  if (abs < 3600) return rtf.format(Math.round(diff / 60), 'minute')
  if (abs < 86400) return rtf.format(Math.round(diff / 3600), 'hour')
  return rtf.format(Math.round(diff / 86400), 'day')
}
