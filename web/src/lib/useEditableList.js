// A screen's whole list of workspace items that it edits (rules, webhooks, nurture
// sequences, e-mail templates): the list, loaded on mount in one request (these APIs do not page); the
// item whose page the route opens (`:id`, found in the list); the dialog that adds or
// edits one; its on/off switch; its confirmed deletion. Writes send the version read
// in the body, and a 412 reloads the list.
//
// - path: the API's path of the list ("/rules"); an item is `${path}/<id>`;
// - routeName: the screen's route, without `id` the list;
// - messages: the prefix of the screen's messages: `created`, `saved`, `turnedOn`,
//   `turnedOff`, `delete` (the confirmation's title), `deleteConfirm`, `deleted`;
// - params(item): what those messages say of an item (default its `name`);
// - onDeleteError(e): shows a refused deletion (default: the error's sentence).
import { computed, onMounted, reactive } from 'vue'
import { useI18n } from 'vue-i18n'
import { useRoute, useRouter } from 'vue-router'
import { api } from './api'
import { showWriteError } from './records'
import { useAction } from './useAction'
import { useList } from './useList'

export function useEditableList(path, { routeName, messages, params = (item) => ({ name: item.name }), onDeleteError }) {
  const { t } = useI18n()
  const route = useRoute()
  const router = useRouter()
  const list = reactive(useList(() => path))
  onMounted(list.reload)
  const byId = (id) => list.items.find((x) => x.id === id) || null

  const listRoute = { name: routeName }
  const openId = computed(() => Number(route.params.id) || null)
  const opened = computed(() => byId(openId.value))
  // A failed reload empties the list: its error shows, not "not found".
  const notFound = computed(() => !!openId.value && list.loaded && !list.error && !opened.value)

  // The dialog edits the item of this id as last loaded (null: a new one), so a reload
  // after a conflict reaches the form.
  const dialog = reactive({ open: false, id: null })
  const editing = computed(() => byId(dialog.id))
  function openDialog(item) {
    dialog.id = item?.id ?? null
    dialog.open = true
  }
  function saved() {
    ElMessage.success(t(dialog.id === null ? `${messages}.created` : `${messages}.saved`))
    dialog.open = false
    return list.reload()
  }
  // Someone changed the item meanwhile: the dialog gets it as it now is, unless it is
  // gone (then there is nothing left to edit).
  async function reloadAfterConflict() {
    await list.reload()
    if (!editing.value) dialog.open = false
  }

  // `busy` holds "toggle:<id>" or "delete:<id>" while an item's switch or deletion runs.
  const { busy, run } = useAction()
  const toggling = (item) => busy.value === `toggle:${item.id}`
  const deleting = (item) => busy.value === `delete:${item.id}`
  function toggle(item, enabled) {
    return run(async () => {
      list.replace(item.id, await api.patch(`${path}/${item.id}`, { enabled, version: item.version }))
    }, {
      key: `toggle:${item.id}`,
      success: t(enabled ? `${messages}.turnedOn` : `${messages}.turnedOff`, params(item)),
      onError: (e) => showWriteError(e, list.reload),
    })
  }
  function remove(item) {
    return run(async () => {
      await api.del(`${path}/${item.id}`)
      if (openId.value === item.id) await router.replace(listRoute)
      await list.reload()
    }, {
      key: `delete:${item.id}`,
      confirm: { message: t(`${messages}.deleteConfirm`, params(item)), title: t(`${messages}.delete`) },
      success: t(`${messages}.deleted`),
      onError: onDeleteError,
    })
  }

  return {
    list, listRoute, openId, opened, notFound,
    dialog, editing, openDialog, saved, reloadAfterConflict,
    toggling, deleting, toggle, remove,
  }
}
