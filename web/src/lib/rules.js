// Form rules shared by every form, with messages in the UI language
// (fieldErrors.<field>.<reason>, the same keys as the API's 422 reasons).

// A field that must be filled.
export const required = (t, field, trigger = 'blur') => ({
  required: true, message: t(`fieldErrors.${field}.required`), trigger,
})

export const emailRules = (t) => [
  required(t, 'email'),
  { type: 'email', message: t('fieldErrors.email.invalid_format'), trigger: 'blur' },
]

// A password being chosen: the API's rule is 8 characters or more.
export const newPasswordRules = (t) => [
  required(t, 'password'),
  { min: 8, message: t('fieldErrors.password.too_short'), trigger: 'blur' },
]

// Rules of a catalog field (records): required, and the format of its type.
export function fieldRules(t, field, label) {
  const out = []
  const change = ['select', 'multiselect', 'user', 'date', 'datetime'].includes(field.type) || !!field.refKind
  if (field.required && field.type !== 'bool') {
    out.push({ required: true, message: t('fieldErrors.requiredNamed', { field: label }), trigger: change ? 'change' : 'blur' })
  }
  if (field.type === 'email') out.push({ type: 'email', message: t('fieldErrors.email.invalid_format'), trigger: 'blur' })
  if (field.type === 'url') out.push({ type: 'url', message: t('fieldErrors.url.invalid_format'), trigger: 'blur' })
  if (field.type === 'money') {
    out.push({
      trigger: 'blur',
      validator: (_r, v, cb) => (v === null || v === undefined || v === '' || /^-?\d+(\.\d{1,2})?$/.test(String(v).replace(/[,\s¥]/g, ''))
        ? cb() : cb(new Error(t('fieldErrors.money.invalid_format')))),
    })
  }
  return out
}
