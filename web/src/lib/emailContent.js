// The words of an e-mail that a rule's `email` action or a sequence step sends, as the
// API takes them: one of the workspace's templates ({template: id}) or a subject and a
// body of its own, one or the other (docs/AUTOMATION.md "E-mail templates"). The forms
// keep both sides and which one is used (`source`), so switching back and forth loses
// nothing typed.
export const EMAIL_SOURCES = ['own', 'template']

// A stored action or step → the form's fields.
export const emailContentForm = (part) => ({
  source: part.template ? 'template' : 'own',
  template: part.template ?? null,
  subject: part.subject ?? '',
  body: part.body ?? '',
})

// The form's fields → the side in use. A template not yet chosen goes as null and an
// empty text as it is, so that the API's 422 names the missing part.
export const emailContentBody = ({ source, template, subject, body }) => (source === 'template' ? { template } : { subject, body })
