// What rule actions point at besides members (the catalog store has those): the
// workspace's roles, webhooks and nurture sequences, and its e-mail templates (kept by
// useTemplates, shared with the sequences). One copy shared by the rules screen and its
// editor, fetched again by `refresh` (the editor opening picks up a webhook added
// meanwhile). A list that cannot be read stays empty: its picker then offers nothing,
// and the API still checks what is saved.
import { reactive } from 'vue'
import { useTemplates } from '@/components/templates/useTemplates'
import { api } from '@/lib/api'

const choices = reactive({ roles: [], webhooks: [], sequences: [] })
const { refresh: refreshTemplates } = useTemplates()

async function refresh() {
  const [roles, webhooks, sequences] = await Promise.allSettled([
    ...['/roles', '/webhooks', '/sequences'].map((p) => api.get(p)),
    refreshTemplates(),
  ])
  const dataOf = (r) => (r.status === 'fulfilled' ? r.value.data || [] : [])
  Object.assign(choices, { roles: dataOf(roles), webhooks: dataOf(webhooks), sequences: dataOf(sequences) })
}

export function useRuleChoices() {
  return { choices, refresh }
}
