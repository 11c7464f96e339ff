// The choices of the workspace settings form, from the browser's Intl data (no lists
// to ship): ISO 4217 currencies named in the UI language, and IANA time zones (the
// API checks a zone against PostgreSQL's list, which has the same names). The stored
// value is always offered, even when this browser does not know it.
const withStored = (values, stored) => (stored && !values.includes(stored) ? [stored, ...values] : values)
const supported = (key) => (Intl.supportedValuesOf ? Intl.supportedValuesOf(key) : [])

export function currencyOptions(locale, stored) {
  const names = new Intl.DisplayNames(locale, { type: 'currency', fallback: 'code' })
  return withStored(supported('currency'), stored).map((code) => ({ value: code, label: `${code} · ${names.of(code)}` }))
}

export const timeZoneOptions = (stored) => withStored(supported('timeZone'), stored)
