// fetch wrapper for /api/v1: JSON in and out, errors as ApiError, and the access
// token refreshed without the user noticing (ahead of its expiry, and once more on
// a 401 token_expired/unauthorized, then the call is retried once).
import { ApiError } from './errors'
import { useAuthStore } from '@/stores/auth'

let onSessionLost = () => {}
export function setSessionLostHandler(fn) { onSessionLost = fn }

export async function rawRequest(method, path, body, token) {
  const headers = { Accept: 'application/json' }
  if (body !== undefined) headers['Content-Type'] = 'application/json'
  if (token) headers.Authorization = `Bearer ${token}`
  let res
  try {
    res = await fetch(`/api/v1${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'same-origin',
      cache: 'no-store',
    })
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

// request(method, path, body?, { auth = true })
export async function request(method, path, body, { auth = true } = {}) {
  if (!auth) return rawRequest(method, path, body)
  const store = useAuthStore()
  await store.ensureFreshToken()
  try {
    return await rawRequest(method, path, body, store.accessToken)
  } catch (e) {
    if (!(e instanceof ApiError) || e.status !== 401 || !['token_expired', 'unauthorized'].includes(e.code)) throw e
    if (await store.refresh()) {
      try {
        return await rawRequest(method, path, body, store.accessToken)
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
}
