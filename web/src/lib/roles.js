// The default role keys of a new tenant (docs/ENDPOINTS.md); owner is never assignable.
export const ROLE_KEYS = ['owner', 'admin', 'manager', 'sales', 'service', 'read-only']
export const ASSIGNABLE_ROLES = ROLE_KEYS.filter((r) => r !== 'owner')
export const STATUS_TYPES = { active: 'success', invited: 'warning', disabled: 'info' }
