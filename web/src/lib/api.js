// fetch wrapper for /api/v1: JSON in and out (or a FormData body in, a file out as a
// Blob), errors as ApiError, and the access token refreshed without the user noticing
// (ahead of its expiry, and once more on a 401 token_expired/unauthorized, then the
// call is retried once).
import { ApiError } from './errors'
import { useAuthStore } from '@/stores/auth'

let onSessionLost = () => {}
export function setSessionLostHandler(fn) { onSessionLost = fn }

// A FormData body goes as multipart (the browser sets its boundary); `blob` answers
// the body of a 2xx as a Blob (a download) instead of parsed JSON.
export async function rawRequest(method, path, body, token, extraHeaders, { blob = false } = {}) {
  const form = typeof FormData !== 'undefined' && body instanceof FormData
  const headers = { Accept: blob ? '*/*' : 'application/json', ...extraHeaders }
  if (body !== undefined && !form) headers['Content-Type'] = 'application/json'
  if (token) headers.Authorization = `Bearer ${token}`
  let res
  try {
    res = await fetch(`/api/v1${path}`, {
      method,
      headers,
      body: body === undefined || form ? body : JSON.stringify(body),
      credentials: 'same-origin',
      cache: 'no-store',
    })
    if (blob && res.ok) return await res.blob()
  } catch {
    throw new ApiError(0, null)
  }
  let data = null
  if (res.status !== 204) {
    try { data = await res.json() } catch { data = null }
  }
  if (!res.ok) throw new ApiError(res.status, data, res.headers)
  return data
}

// request(method, path, body?, { auth = true, headers, blob })
export async function request(method, path, body, { auth = true, headers, blob } = {}) {
  const opts = { blob }
  if (!auth) return rawRequest(method, path, body, null, headers, opts)
  const store = useAuthStore()
  await store.ensureFreshToken()
  try {
    return await rawRequest(method, path, body, store.accessToken, headers, opts)
  } catch (e) {
    if (!(e instanceof ApiError) || e.status !== 401 || !['token_expired', 'unauthorized'].includes(e.code)) throw e
    if (await store.refresh()) {
      try {
        return await rawRequest(method, path, body, store.accessToken, headers, opts)
      } catch (e2) {
        if (!(e2 instanceof ApiError) || e2.status !== 401) throw e2
      }
    }
    store.clear()
    onSessionLost()
    throw e
  }
}

export const api = {
  get: (path, opts) => request('GET', path, undefined, opts),
  post: (path, body, opts) => request('POST', path, body ?? {}, opts),
  patch: (path, body, opts) => request('PATCH', path, body, opts),
  del: (path, opts) => request('DELETE', path, undefined, opts),
  // A file the API answers (an export): GET, the body as a Blob.
  file: (path, opts) => request('GET', path, undefined, { ...opts, blob: true }),
}

// The options of a write guarded by the record's version (412 version_conflict when stale).
export const ifMatch = (version) => ({ headers: { 'If-Match': String(version) } })

// "?a=1&filter[x][lt]=…" from { a: 1, filter: { x: { lt: … } } }; empty values are left out.
export function queryString(params = {}) {
  const parts = []
  const add = (k, v) => {
    if (v === undefined || v === null || v === '' || (Array.isArray(v) && !v.length)) return
    parts.push(`${k}=${encodeURIComponent(Array.isArray(v) ? v.join(',') : v)}`)
  }
  for (const [k, v] of Object.entries(params)) {
    if (k !== 'filter') { add(k, v); continue }
    for (const [field, cond] of Object.entries(v || {})) {
      if (cond && typeof cond === 'object' && !Array.isArray(cond)) {
        for (const [op, val] of Object.entries(cond)) add(`filter[${field}][${op}]`, val)
      } else add(`filter[${field}]`, cond)
    }
  }
  return parts.length ? `?${parts.join('&')}` : ''
}
