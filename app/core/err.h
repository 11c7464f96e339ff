/* Errors: a machine code, an optional field map, and a message for people.
 * One table (err.c) maps each code to its HTTP status and log level. */
#ifndef CRM_ERR_H
#define CRM_ERR_H

enum err_code {
	ERR_NONE = 0,
	ERR_INVALID_JSON,
	ERR_BAD_REQUEST,
	ERR_UNAUTHORIZED,
	ERR_TOKEN_EXPIRED,
	ERR_INVALID_CREDENTIALS,
	ERR_INVALID_REFRESH_TOKEN,
	ERR_FORBIDDEN,
	ERR_FIELD_FORBIDDEN,
	ERR_TENANT_SUSPENDED,
	ERR_MEMBER_DISABLED,
	ERR_NOT_FOUND,
	ERR_METHOD_NOT_ALLOWED,
	ERR_CONFLICT,
	ERR_DUPLICATE,
	ERR_SLUG_TAKEN,
	ERR_EMAIL_TAKEN,
	ERR_TENANT_REQUIRED,
	ERR_ALREADY_MEMBER,
	ERR_VERSION_CONFLICT,
	ERR_PAYLOAD_TOO_LARGE,
	ERR_UNSUPPORTED_MEDIA_TYPE,
	ERR_VALIDATION_FAILED,
	ERR_RATE_LIMITED,
	ERR_INTERNAL,
	ERR_DB_UNAVAILABLE,
	ERR_REDIS_UNAVAILABLE,
	ERR_TENANT_MIGRATING,
	ERR_DELIVERY_FAILED,	/* crm-worker: a webhook or e-mail attempt failed */
	ERR__COUNT
};

#define ERR_MAX_FIELDS 16

struct err_field {
	const char *name, *reason;
};

struct err {
	enum err_code code;
	const char *message;	/* NULL: the code's default message */
	int nfields;
	struct err_field fields[ERR_MAX_FIELDS];
	const char *extra_json;	/* optional `"key":value` pairs added to the error object */
};

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };

const char *err_name(enum err_code code);
int err_status(enum err_code code);
enum log_level err_log_level(enum err_code code);
const char *err_default_message(enum err_code code);

/* Sets code and message; returns -1 so callers can `return err_set(...)`. */
int err_set(struct err *e, enum err_code code, const char *message);
/* Adds a field reason to a validation error (sets ERR_VALIDATION_FAILED). */
int err_field(struct err *e, const char *field, const char *reason);

#endif
