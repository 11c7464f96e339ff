// Rules in words, in the UI language: a field a rule names, who an action reaches,
// what an action does, why a rule ran. Field labels come from the object's catalog
// in the store (loaded by the screen).
import { useTemplates } from '@/components/templates/useTemplates'
import { formatDate } from '@/lib/format'
import { fieldByPath } from '@/lib/ruleForm'
import { fieldLabel } from '@/lib/records'
import { roleLabel } from '@/lib/roles'
import { i18n } from '@/lib/i18n'
import { useCatalogStore } from '@/stores/catalog'

const t = (...args) => i18n.global.t(...args)

// The label of a rule's field path ("owner_id", "custom.region").
export function fieldText(object, path) {
  const field = fieldByPath(useCatalogStore().fields[object]?.data || [], path)
  return field ? fieldLabel(object, field) : path
}

// A role by its key (`roles` from /roles); one not among them is named by its key alone.
const roleText = (key, roles) => roleLabel(roles.find((r) => r.key === key) || { key })

// Who a notify or e-mail action reaches: "owner", "manager", {member}, {role}.
function recipientText(to, roles) {
  if (to === 'owner' || to === 'manager') return t(`ruleEditor.recipients.${to}`)
  if (to?.member) return useCatalogStore().memberName(to.member)
  if (to?.role) return t('ruleEditor.recipients.roleNamed', { role: roleText(to.role, roles) })
  return '—'
}

// What an action does, in one line. An e-mail that sends a template names it (the
// templates are loaded with the rules' other choices, useRuleChoices).
export function actionText(object, action, roles) {
  const key = `ruleEditor.actionText.${action.type}`
  switch (action.type) {
    case 'notify':
      return t(key, { to: recipientText(action.to, roles) })
    case 'email': {
      const to = recipientText(action.to, roles)
      if (!action.template) return t(key, { to })
      return t('ruleEditor.actionText.emailTemplate', { to, template: useTemplates().templateName(action.template) })
    }
    case 'assign': {
      if (action.strategy === 'member') return t(`${key}.member`, { member: useCatalogStore().memberName(action.member) })
      const pool = action.role ? t('ruleEditor.recipients.roleNamed', { role: roleText(action.role, roles) }) : t('ruleEditor.actionText.poolMembers', { n: action.members?.length || 0 })
      return t(`${key}.${action.strategy}`, { pool })
    }
    case 'create_task': return t(key, { subject: action.subject })
    case 'set_field': return t(key, { field: fieldText(action.on || object, action.field) })
    case 'add_tag': return t(key, { tag: action.tag })
    case 'add_score': return t(action.points < 0 ? `${key}.minus` : `${key}.plus`, { n: Math.abs(action.points) })
    default: return t(`ruleEditor.actionTypes.${action.type}`)
  }
}

// Why a rule ran, from the run's cause: the event of a change ("event:<id>"), a
// date_offset timer ("timer:…"), a quiet spell of a customer ("quiet:<epoch>") or an
// anniversary ("year:<year>"). Runs caused by a rule's own change share its cause.
export function causeText(cause) {
  const [kind] = cause.split(':', 1)
  const rest = cause.slice(kind.length + 1)
  switch (kind) {
    case 'event': return t('ruleEditor.runs.causes.event', { id: rest })
    case 'timer': return t('ruleEditor.runs.causes.timer')
    case 'quiet': return t('ruleEditor.runs.causes.quiet', { since: formatDate(Number(rest) * 1000) })
    case 'year': return t('ruleEditor.runs.causes.year', { year: rest })
    default: return cause
  }
}

// A starter rule keeps its translated name until an admin renames it (the workspace
// stores the Chinese name the template gave it).
export function ruleName(rule) {
  const key = `ruleEditor.starters.${rule.key}`
  return rule.key && i18n.global.te(key, 'zh-CN') && rule.name === t(key, {}, { locale: 'zh-CN' }) ? t(key) : rule.name
}
