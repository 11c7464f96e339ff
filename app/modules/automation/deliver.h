/* Deliveries crm-worker makes for automation: webhook calls (generic JSON
 * signed with HMAC-SHA256, DingTalk and WeCom group robots) and e-mail over
 * SMTP, both with libcurl. The rows and their logs are in the tenant schema
 * (sql/tenant/008_automation.sql: delivery_request/delivery_result,
 * email_request/email_result); a job of kind `deliver` or `email` carries the
 * row's id as ref_id. */
#ifndef CRM_DELIVER_H
#define CRM_DELIVER_H

#include <stdbool.h>
#include <stdint.h>

struct req;

/* Sets up and tears down what deliveries need (libcurl), once per process. */
void deliver_init(void);
void deliver_cleanup(void);

/* Runs one delivery job of kind "deliver" or "email" for tenant tid, row
 * ref, in its own transaction: sends and records the attempt. last_try is
 * true on the job's last attempt (the row then ends `dead` on failure).
 * Returns 0 when delivered (or nothing is left to deliver), -1 with r->err
 * set when the attempt failed and the job should be retried. */
int deliver_run(struct req *r, const char *kind, int64_t tid, const char *ref, bool last_try);

#endif
