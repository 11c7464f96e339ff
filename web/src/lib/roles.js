// Roles: the default keys of a new tenant, member status colours, and a role's name in
// the UI language.
import { i18n, LOCALES } from './i18n'

// The default role keys of a new tenant (docs/ENDPOINTS.md); owner is never assignable.
export const ROLE_KEYS = ['owner', 'admin', 'manager', 'sales', 'service', 'read-only']
export const ASSIGNABLE_ROLES = ROLE_KEYS.filter((r) => r !== 'owner')
export const STATUS_TYPES = { active: 'success', invited: 'warning', disabled: 'info' }

// A role's name ({key, name} as /roles and /me give it). The workspace stores a
// built-in role's name in the language it was created in, so a name equal to one of
// the translations of `roles.<key>` was never renamed and shows in the UI language;
// a renamed or custom role shows as named. Without a name (only the key is known, as
// in the member list) a built-in role is translated and any other shows its key.
export function roleLabel({ key, name }) {
  const { t, te } = i18n.global
  const path = `roles.${key}`
  if (!te(path)) return name || key
  const renamed = !!name && !LOCALES.some(({ value }) => t(path, {}, { locale: value }) === name)
  return renamed ? name : t(path)
}
