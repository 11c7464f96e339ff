// The submission of an Element Plus form to the API: validation, the busy flag, and
// the server's answer as errors under the inputs (422 fields) or above the form.
import { ref } from 'vue'
import { errorText, fieldErrors } from './errors'

// Use `formRef` as the form's ref, `serverFields` for each form item's :error,
// `formError` for the alert, `submitting` for the button's :loading.
export function useSubmit() {
  const formRef = ref()
  const serverFields = ref({}) // field → sentence
  const formError = ref('')
  const submitting = ref(false)

  // Runs `action` once the form is valid. Options:
  // - check(): after validation; return true to go on, false to stop, or a sentence to
  //   stop with it as the form error.
  // - onError(e, fields): for the errors the form knows; may add to `fields` (field →
  //   sentence, from the 422 fields). Return false when it handled the error (nothing
  //   shown), a sentence to show as the form error, or nothing: the form error is then
  //   errorText(e), shown only when no field has an error.
  async function submit(action, { check, onError } = {}) {
    serverFields.value = {}
    formError.value = ''
    if (!(await formRef.value.validate().catch(() => false))) return
    const go = check ? check() : true
    if (go !== true) {
      if (typeof go === 'string') formError.value = go
      return
    }
    submitting.value = true
    try {
      await action()
    } catch (e) {
      const fields = fieldErrors(e)
      const shown = onError ? onError(e, fields) : undefined
      if (shown === false) return
      serverFields.value = fields
      if (typeof shown === 'string') formError.value = shown
      else if (!Object.keys(fields).length) formError.value = errorText(e)
    } finally {
      submitting.value = false
    }
  }

  // Forgets the server's errors and the validation messages (a dialog being reset).
  function clearErrors() {
    serverFields.value = {}
    formError.value = ''
    formRef.value?.clearValidate()
  }

  return { formRef, serverFields, formError, submitting, submit, clearErrors }
}
