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
