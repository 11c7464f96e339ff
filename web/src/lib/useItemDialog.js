// The submission of an editable list's item dialog (lib/useEditableList.js): what
// useSubmit gives, plus the save every such dialog makes. A new item is POSTed, the one
// being edited PATCHed with the version it was read at; `saved` is emitted with the
// API's answer. A 412 emits `conflict` (the screen reloads the item into the form) and
// the form says so.
import { useI18n } from 'vue-i18n'
import { api } from './api'
import { isConflict } from './records'
import { useSubmit } from './useSubmit'

export function useItemDialog(path, emit) {
  const { t } = useI18n()
  const form = useSubmit()

  // item: the one edited (null: a new one); body(): what the API takes, asked once the
  // form is valid; check and onError as useSubmit's (onError: the errors but a conflict).
  function saveItem(item, body, { check, onError } = {}) {
    return form.submit(async () => {
      const b = body()
      emit('saved', item ? await api.patch(`${path}/${item.id}`, { ...b, version: item.version }) : await api.post(path, b))
    }, {
      check,
      onError(e, fields) {
        if (!isConflict(e)) return onError?.(e, fields)
        emit('conflict')
        return t('records.conflictReloaded')
      },
    })
  }

  return { ...form, saveItem }
}
