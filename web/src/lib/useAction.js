// What a button does to the server, outside a form: ask first when it cannot be
// undone, make the call (and what follows it: a reload, a list updated…), then say
// it worked or show the error in the user's language.
import { ref } from 'vue'
import { errorText } from './errors'
import { i18n } from './i18n'

// The confirmation box; true when the user went on. `confirmText` defaults to
// "Delete"; `danger` paints that button red.
export async function confirmAction({ message, title, confirmText, danger = true }) {
  const { t } = i18n.global
  try {
    await ElMessageBox.confirm(message, title, {
      type: 'warning',
      confirmButtonText: confirmText || t('common.delete'),
      cancelButtonText: t('common.cancel'),
      ...(danger ? { confirmButtonClass: 'el-button--danger' } : {}),
    })
    return true
  } catch {
    return false
  }
}

// `busy` holds the key of the running action (a row's id, for its button's :loading),
// null when none runs.
export function useAction() {
  const busy = ref(null)

  // Runs `action` and answers whether it worked. Options:
  // - confirm: { message, title, confirmText, danger } asked first (see confirmAction);
  // - key: what `busy` holds meanwhile (default true);
  // - success: the message once it worked;
  // - onError(e): shows the error itself, awaited while still busy (default:
  //   errorText(e) as a message).
  async function run(action, { confirm, key = true, success, onError } = {}) {
    if (confirm && !(await confirmAction(confirm))) return false
    busy.value = key
    try {
      await action()
      if (success) ElMessage.success(success)
      return true
    } catch (e) {
      if (onError) await onError(e)
      else ElMessage.error(errorText(e))
      return false
    } finally {
      busy.value = null
    }
  }

  return { busy, run }
}
