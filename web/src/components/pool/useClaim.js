// Claiming a customer from the public pool (POST /customers/{id}/claim), with the
// API's two refusals said plainly: the role's limit of customers held (422 with
// owner_id: claim_limit_reached) and a customer no longer in the pool (409: a
// colleague claimed it first).
import { useI18n } from 'vue-i18n'
import { api } from '@/lib/api'
import { errorText } from '@/lib/errors'
import { useAction } from '@/lib/useAction'

export function useClaim() {
  const { t } = useI18n()
  const { busy, run } = useAction()

  const isLimitReached = (e) => e.fields?.owner_id === 'claim_limit_reached'

  // `then(customer)` follows a claim with the customer as it now is, `gone()` a
  // customer no longer in the pool; `success` is the message once claimed.
  function claim(customer, { then, gone, success } = {}) {
    return run(async () => then?.(await api.post(`/customers/${customer.id}/claim`)), {
      key: customer.id,
      success,
      onError(e) {
        if (e.status === 409) {
          ElMessage.warning(t('pool.claimedByOther'))
          gone?.()
        } else if (isLimitReached(e)) {
          // A sentence with advice: left up longer than a plain error.
          ElMessage.error({ message: t('pool.limitReached'), duration: 8000, showClose: true })
        } else {
          ElMessage.error(errorText(e))
        }
      },
    })
  }

  return { busy, claim }
}
