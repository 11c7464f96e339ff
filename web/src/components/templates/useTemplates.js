// The workspace's e-mail templates as the screens that point at them see them (sequence
// steps, rules' e-mail actions): one copy, read again by `refresh` when a form opens or
// a page that names them is shown (a template added meanwhile is then offered). A list
// that cannot be read leaves the pickers empty and the names as numbers; the API still
// checks what is saved.
import { reactive } from 'vue'
import { i18n } from '@/lib/i18n'
import { useList } from '@/lib/useList'

const templates = reactive(useList(() => '/email_templates'))   // one page: the API does not page them

const templateName = (id) => templates.items.find((tpl) => tpl.id === id)?.name ?? i18n.global.t('emailTemplates.numbered', { id })

// What an action or step sends, in a few words: its own subject, or its template's name.
const contentLabel = (part) => (part.template ? templateName(part.template) : part.subject)

export function useTemplates() {
  return { templates, refresh: templates.reload, templateName, contentLabel }
}
