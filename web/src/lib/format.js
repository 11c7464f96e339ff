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

// Money from the API's decimal string ("12500.00") and currency code: "¥12,500.00".
// The string goes to Intl as it is, so no digit is lost to floating point.
export function formatMoney(amount, currency = 'CNY') {
  if (amount === null || amount === undefined || amount === '') return '—'
  try {
    return new Intl.NumberFormat(loc(), { style: 'currency', currency: currency || 'CNY', currencyDisplay: 'narrowSymbol' }).format(amount)
  } catch {
    return `${amount} ${currency || ''}`.trim()
  }
}

// Money in a few characters, for chart axes and labels: "¥1.2M", "¥120万".
export function formatMoneyShort(amount, currency = 'CNY') {
  try {
    return new Intl.NumberFormat(loc(), {
      style: 'currency', currency: currency || 'CNY', currencyDisplay: 'narrowSymbol', notation: 'compact', maximumFractionDigits: 1,
    }).format(amount)
  } catch {
    return formatMoney(amount, currency)
  }
}

// Adds decimal strings exactly (in cents): totals of amounts.
export function sumMoney(amounts) {
  let cents = 0n
  for (const a of amounts) {
    const m = /^(-?)(\d+)(?:\.(\d{1,2}))?/.exec(String(a ?? '').trim())
    if (!m) continue
    const v = BigInt(m[2]) * 100n + BigInt((m[3] || '0').padEnd(2, '0'))
    cents += m[1] ? -v : v
  }
  const neg = cents < 0n
  const abs = neg ? -cents : cents
  return `${neg ? '-' : ''}${abs / 100n}.${String(abs % 100n).padStart(2, '0')}`
}

// A short date and time ("11月24日 14:30"), the year only when it is not this one.
export function formatWhen(value) {
  if (!value) return '—'
  const d = new Date(value)
  if (Number.isNaN(d.getTime())) return '—'
  const opts = { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' }
  if (d.getFullYear() !== new Date().getFullYear()) opts.year = 'numeric'
  return new Intl.DateTimeFormat(loc(), opts).format(d)
}
