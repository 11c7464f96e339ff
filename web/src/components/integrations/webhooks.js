// What the webhook screens know of the API (docs/AUTOMATION.md, "Webhooks and
// e-mail"; sql/tenant/008_automation.sql): the kinds, the events a filter can name,
// how a delivery's state and its next attempt read, and URLs with their secrets hidden.
import { i18n } from '@/lib/i18n'

export const KINDS = ['generic', 'dingtalk', 'wecom']
export const KIND_TYPES = { generic: 'primary', dingtalk: 'info', wecom: 'success' }

// The events of the outbox, by subject: record changes ("<singular>.<action>d"),
// the public pool's moves, a lead's conversion, a member's handover, and the
// configuration changes (catalog_log). "<subject>.*" and "*" match them too.
const RECORD_ACTIONS = ['created', 'updated', 'deleted', 'restored']
const CATALOG_ACTIONS = ['created', 'updated', 'deleted']
export const EVENT_GROUPS = [
  { subject: 'customer', actions: [...RECORD_ACTIONS, 'merged', 'claimed', 'released', 'returned_to_pool'] },
  { subject: 'contact', actions: RECORD_ACTIONS },
  { subject: 'lead', actions: [...RECORD_ACTIONS, 'converted'] },
  { subject: 'opportunity', actions: RECORD_ACTIONS },
  { subject: 'activity', actions: RECORD_ACTIONS },
  { subject: 'task', actions: RECORD_ACTIONS },
  { subject: 'member', actions: ['handover'] },
  { subject: 'setting', actions: ['updated'] },
  { subject: 'role', actions: ['created', 'updated'] },
  ...['field', 'pipeline', 'tag', 'rule', 'sequence', 'webhook'].map((subject) => ({ subject, actions: CATALOG_ACTIONS })),
]
export const ALL_EVENTS = '*'

// "客户 · 创建" for customer.created, "全部事件" for *; an event this screen does not
// know (sent by another client) as it is.
export function eventLabel(event) {
  const { t, te } = i18n.global
  if (event === ALL_EVENTS) return t('webhooks.events.all')
  const [subject, action] = event.split('.')
  const s = `webhooks.events.subjects.${subject}`
  const a = `webhooks.events.actions.${action === '*' ? 'any' : action}`
  return te(s) && te(a) ? t('webhooks.events.label', { subject: t(s), action: t(a) }) : event
}

// crm-worker's schedule: a failed attempt is tried again after 2^attempts seconds,
// and the fifth failure makes the delivery dead.
export const MAX_ATTEMPTS = 5

// pending (not tried yet), retrying (failed, tried again soon), done or dead. A
// webhook's last_delivery has no attempts: an answer recorded says it was tried.
export function deliveryState(d) {
  if (d.status !== 'queued') return d.status
  return d.attempts > 0 || d.response_status ? 'retrying' : 'pending'
}
export const STATE_TYPES = { pending: 'info', retrying: 'warning', done: 'success', dead: 'danger' }

// When the next attempt comes. The log keeps no time of the last attempt, so a
// retry is said as the wait after it rather than as a clock time.
export function nextAttemptText(d) {
  const { t } = i18n.global
  const state = deliveryState(d)
  if (state === 'pending') return t('webhooks.log.next.pending')
  if (state === 'retrying') return t('webhooks.log.next.retrying', { n: d.attempts + 1, max: MAX_ATTEMPTS, s: 2 ** d.attempts })
  if (state === 'dead') return t('webhooks.log.next.dead')
  return '—'
}

// The URL to show: every query value (a robot's access_token or key, any token of a
// generic endpoint) and a password replaced by ***.
export function maskUrl(url) {
  try {
    const u = new URL(url)
    if (u.password) u.password = '***'
    for (const key of new Set(u.searchParams.keys())) u.searchParams.set(key, '***')
    return u.toString()
  } catch {
    return url.split('?')[0]
  }
}
