// The record a record page shows (the customer 360° page, the page of a lead, task…):
// loaded by object and id (404 → `notFound`, any other error → `loadError`), named on
// the browser tab, and deleted (confirmed; then `back`, a route, opens).
import { ref, toValue } from 'vue'
import { useRouter } from 'vue-router'
import { ApiError, errorText } from './errors'
import { i18n } from './i18n'
import { deleteRecord, getRecord, recordTitle, showWriteError } from './records'
import { useAction } from './useAction'
import { useCatalogStore } from '@/stores/catalog'

// `object`, `id` and `back` may be refs or getters (a page that follows its route).
export function useRecord(object, id, back) {
  const { t } = i18n.global
  const router = useRouter()
  const catalog = useCatalogStore()
  const record = ref(null)
  const loadError = ref('')
  const notFound = ref(false)

  async function load() {
    loadError.value = ''
    notFound.value = false
    try {
      record.value = await getRecord(toValue(object), toValue(id))
      catalog.rememberTitle(toValue(object), record.value)
      document.title = `${recordTitle(record.value)} · ${t('brand')}`
    } catch (e) {
      if (e instanceof ApiError && e.status === 404) notFound.value = true
      else loadError.value = errorText(e)
    }
  }

  const { run } = useAction()
  async function remove() {
    const ok = await run(() => deleteRecord(toValue(object), record.value), {
      confirm: { message: t('records.deleteConfirm', { name: recordTitle(record.value) }), title: t('common.delete') },
      success: t('records.deleted'),
      onError: (e) => showWriteError(e, load),
    })
    if (ok) router.push(toValue(back))
  }

  return { record, loadError, notFound, load, remove }
}
