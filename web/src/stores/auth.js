// The signed-in session: the access token lives in memory only, the refresh token in
// localStorage (so a reload or a new tab stays signed in). Refresh tokens rotate and
// a reused one ends the whole session, so refreshes are serialised across tabs with
// the Web Locks API and always use the newest stored token.
import { defineStore } from 'pinia'
import { api, rawRequest } from '@/lib/api'
import { ApiError } from '@/lib/errors'

const REFRESH_KEY = 'crm.refresh_token'
const readRefresh = () => { try { return localStorage.getItem(REFRESH_KEY) } catch { return null } }
const writeRefresh = (v) => {
  try { v ? localStorage.setItem(REFRESH_KEY, v) : localStorage.removeItem(REFRESH_KEY) } catch { /* blocked */ }
}
const withLock = (fn) =>
  typeof navigator !== 'undefined' && navigator.locks ? navigator.locks.request('crm.refresh', fn) : fn()

let inflight = null

export const useAuthStore = defineStore('auth', {
  state: () => ({
    accessToken: null,
    expiresAt: 0,
    hasRefresh: !!readRefresh(),
    tenant: null,
    user: null,
    role: null,
    me: null,
  }),
  getters: {
    signedIn: (s) => !!s.me,
    permissions: (s) => new Set(s.me?.permissions || []),
    can() { return (p) => this.permissions.has(p) },
  },
  actions: {
    // The token shape of signup, login, refresh and invitation accept.
    setTokens(data) {
      // Another user or workspace: /me is reloaded.
      if (this.me && (data.user?.id !== this.me.user?.id || data.tenant?.id !== this.me.tenant?.id)) this.me = null
      this.accessToken = data.access_token
      this.expiresAt = Date.now() + (Number(data.expires_in) || 900) * 1000
      writeRefresh(data.refresh_token)
      this.hasRefresh = true
      this.tenant = data.tenant || this.tenant
      this.user = data.user || this.user
      this.role = data.role || this.role
    },
    clear() {
      this.accessToken = null
      this.expiresAt = 0
      this.tenant = this.user = this.role = this.me = null
      writeRefresh(null)
      this.hasRefresh = false
    },
    // One refresh at a time (per tab via `inflight`, across tabs via the lock).
    // true: a fresh access token is in memory; false: the session is over.
    refresh() {
      if (inflight) return inflight
      const before = this.accessToken
      inflight = withLock(async () => {
        // Another tab may have rotated the token meanwhile: take the newest.
        const token = readRefresh()
        if (!token) return false
        if (this.accessToken !== before && this.expiresAt - Date.now() > 60_000) return true
        try {
          this.setTokens(await rawRequest('POST', '/auth/refresh', { refresh_token: token }))
          return true
        } catch (e) {
          if (e instanceof ApiError && (e.status === 401 || e.status === 403 || e.status === 422)) {
            this.clear()
            return false
          }
          throw e
        }
      }).finally(() => { inflight = null })
      return inflight
    },
    async ensureFreshToken() {
      if (this.accessToken && this.expiresAt - Date.now() > 30_000) return true
      if (!readRefresh()) return false
      return this.refresh()
    },
    async loadMe() {
      this.me = await api.get('/me')
      this.tenant = { ...(this.tenant || {}), ...this.me.tenant }
      this.user = { ...(this.user || {}), ...this.me.user }
      this.role = this.me.role?.key || this.role
      return this.me
    },
    // For the router: is there a usable session? Loads /me once.
    async ensureSession() {
      if (this.me && this.accessToken) return true
      if (!this.accessToken && !readRefresh()) return false
      try {
        if (!(await this.ensureFreshToken())) return false
        await this.loadMe()
        return true
      } catch (e) {
        if (e instanceof ApiError && e.status === 401) { this.clear(); return false }
        throw e
      }
    },
    async logout() {
      try {
        if (this.accessToken) await rawRequest('POST', '/auth/logout', {}, this.accessToken)
      } catch { /* the session is dropped here anyway */ }
      this.clear()
    },
  },
})

export { REFRESH_KEY }
