// A keyset-paged list of the API ({data, next_cursor}): the first page, "load more",
// and the loading / error states. `pathFor(cursor)` gives the path of a page; an
// answer to an older reload (the query changed meanwhile) is dropped.
import { ref } from 'vue'
import { api } from './api'
import { errorText } from './errors'

export function useList(pathFor) {
  const items = ref([])
  const nextCursor = ref(null)
  const loading = ref(false)
  const loadingMore = ref(false)
  const loaded = ref(false)
  const error = ref('')
  let seq = 0

  async function reload() {
    const mine = ++seq
    loading.value = true
    error.value = ''
    try {
      const r = await api.get(pathFor(null))
      if (mine !== seq) return
      items.value = r.data || []
      nextCursor.value = r.next_cursor || null
      loaded.value = true
    } catch (e) {
      if (mine !== seq) return
      error.value = errorText(e)
      items.value = []
      nextCursor.value = null
    } finally {
      if (mine === seq) loading.value = false
    }
  }

  async function loadMore() {
    if (!nextCursor.value || loadingMore.value) return
    const mine = seq
    loadingMore.value = true
    try {
      const r = await api.get(pathFor(nextCursor.value))
      if (mine !== seq) return
      items.value.push(...(r.data || []))
      nextCursor.value = r.next_cursor || null
    } catch (e) {
      ElMessage.error(errorText(e))
    } finally {
      loadingMore.value = false
    }
  }

  // Replaces (or with null removes) the item of this id in the loaded pages.
  function replace(id, record) {
    const i = items.value.findIndex((x) => x.id === id)
    if (i < 0) return
    if (record) items.value[i] = record
    else items.value.splice(i, 1)
  }

  return { items, nextCursor, loading, loadingMore, loaded, error, reload, loadMore, replace }
}

// The pages of a list one after the other, up to `max` items: { items, more }, `more`
// when the list goes on beyond them (boards and counts that need the whole set).
export async function fetchUpTo(pathFor, max = 1000) {
  const items = []
  let cursor = null
  do {
    const r = await api.get(pathFor(cursor))
    items.push(...(r.data || []))
    cursor = r.next_cursor || null
  } while (cursor && items.length < max)
  return { items: items.slice(0, max), more: !!cursor || items.length > max }
}

// Every page of a list, up to `max` items (pickers that need the whole set).
export async function fetchAll(pathFor, max = 1000) {
  return (await fetchUpTo(pathFor, max)).items
}
