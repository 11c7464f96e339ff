/* The one table from error code to name, HTTP status, log level and message. */
#include "err.h"

static const struct {
	const char *name;
	int status;
	enum log_level level;
	const char *message;
} table[ERR__COUNT] = {
	[ERR_NONE] = {"none", 200, LOG_DEBUG, ""},
	[ERR_INVALID_JSON] = {"invalid_json", 400, LOG_INFO, "The request body is not a valid JSON object."},
	[ERR_BAD_REQUEST] = {"bad_request", 400, LOG_INFO, "The request is malformed."},
	[ERR_UNAUTHORIZED] = {"unauthorized", 401, LOG_INFO, "Authentication is required."},
	[ERR_TOKEN_EXPIRED] = {"token_expired", 401, LOG_INFO, "The access token has expired."},
	[ERR_INVALID_CREDENTIALS] = {"invalid_credentials", 401, LOG_INFO, "The e-mail or password is wrong."},
	[ERR_INVALID_REFRESH_TOKEN] = {"invalid_refresh_token", 401, LOG_INFO, "The refresh token is not valid."},
	[ERR_FORBIDDEN] = {"forbidden", 403, LOG_INFO, "You are not allowed to do this."},
	[ERR_FIELD_FORBIDDEN] = {"field_forbidden", 403, LOG_INFO, "You may not change some of these fields."},
	[ERR_TENANT_SUSPENDED] = {"tenant_suspended", 403, LOG_INFO, "This workspace is suspended."},
	[ERR_MEMBER_DISABLED] = {"member_disabled", 403, LOG_INFO, "This account is disabled in this workspace."},
	[ERR_NOT_FOUND] = {"not_found", 404, LOG_INFO, "Not found."},
	[ERR_METHOD_NOT_ALLOWED] = {"method_not_allowed", 405, LOG_INFO, "This method is not allowed here."},
	[ERR_CONFLICT] = {"conflict", 409, LOG_INFO, "The request conflicts with the current state."},
	[ERR_DUPLICATE] = {"duplicate", 409, LOG_INFO, "A matching record already exists."},
	[ERR_SLUG_TAKEN] = {"slug_taken", 409, LOG_INFO, "This workspace address is taken."},
	[ERR_EMAIL_TAKEN] = {"email_taken", 409, LOG_INFO, "This e-mail belongs to an existing account."},
	[ERR_TENANT_REQUIRED] = {"tenant_required", 409, LOG_INFO, "Choose the workspace to sign in to."},
	[ERR_ALREADY_MEMBER] = {"already_member", 409, LOG_INFO, "This e-mail is already a member."},
	[ERR_VERSION_CONFLICT] = {"version_conflict", 412, LOG_INFO, "The record was changed by someone else."},
	[ERR_PAYLOAD_TOO_LARGE] = {"payload_too_large", 413, LOG_INFO, "The request body is too large."},
	[ERR_UNSUPPORTED_MEDIA_TYPE] = {"unsupported_media_type", 415, LOG_INFO, "The body must be application/json."},
	[ERR_VALIDATION_FAILED] = {"validation_failed", 422, LOG_INFO, "Some fields are not valid."},
	[ERR_RATE_LIMITED] = {"rate_limited", 429, LOG_INFO, "Too many attempts; try again later."},
	[ERR_INTERNAL] = {"internal", 500, LOG_ERROR, "Internal error."},
	[ERR_DB_UNAVAILABLE] = {"db_unavailable", 503, LOG_ERROR, "The database is unavailable."},
	[ERR_REDIS_UNAVAILABLE] = {"redis_unavailable", 503, LOG_ERROR, "The session store is unavailable."},
	[ERR_TENANT_MIGRATING] = {"tenant_migrating", 503, LOG_WARN, "This workspace is being upgraded; try again shortly."},
	[ERR_DELIVERY_FAILED] = {"delivery_failed", 503, LOG_WARN, "The webhook or e-mail could not be delivered."},
};

const char *
err_name(enum err_code code)
{
	return table[code].name;
}

int
err_status(enum err_code code)
{
	return table[code].status;
}

enum log_level
err_log_level(enum err_code code)
{
	return table[code].level;
}

const char *
err_default_message(enum err_code code)
{
	return table[code].message;
}

int
err_set(struct err *e, enum err_code code, const char *message)
{
	e->code = code;
	e->message = message;
	return -1;
}

int
err_field(struct err *e, const char *field, const char *reason)
{
	e->code = ERR_VALIDATION_FAILED;
	if (e->nfields < ERR_MAX_FIELDS)
		e->fields[e->nfields++] = (struct err_field){field, reason};
	return -1;
}
