// Files the API answers (exports): fetched through the api layer, since the access
// token is a header held in memory and a plain link could not carry it, then saved
// from an object URL under a name of the day ("customers-2026-11-24.csv").
import { api, queryString } from './api'

// "2026-11-24" in the user's time zone.
export function localDate(d = new Date()) {
  const pad = (n) => String(n).padStart(2, '0')
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`
}

// Hands a Blob to the browser as a download named `filename`.
export function saveBlob(blob, filename) {
  const url = URL.createObjectURL(blob)
  const a = document.createElement('a')
  a.href = url
  a.download = filename
  a.rel = 'noopener'
  document.body.appendChild(a)
  a.click()
  a.remove()
  // the download has taken the data by the next tasks; the URL can go
  setTimeout(() => URL.revokeObjectURL(url), 30_000)
}

// GET /api/v1/<object>/export with a list query ({ sort, q, filter }), saved as
// <object>-<date>.csv. Resolves once the file is handed over; rejects with an ApiError.
// (A list's limit and cursor are left out: the export has every record the query finds.)
export async function downloadExport(object, { sort, q, filter } = {}) {
  const blob = await api.file(`/${object}/export${queryString({ sort, q, filter })}`)
  saveBlob(blob, `${object}-${localDate()}.csv`)
}
