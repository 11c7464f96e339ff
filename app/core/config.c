/* Configuration from the environment; see config.h. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"

#define CRM_VERSION "0.1.0"

struct config config;

static const char *
env_str(const char *name, const char *fallback)
{
	const char *v = getenv(name);

	return v != NULL && *v != '\0' ? v : fallback;
}

static int
env_int(const char *name, int fallback, int min, int max)
{
	const char *v = getenv(name);
	char *end;

	if (v == NULL || *v == '\0')
		return fallback;
	errno = 0;
	long n = strtol(v, &end, 10);
	if (errno != 0 || *end != '\0' || n < min || n > max) {
		log_warn("%s=%s is not a number in [%d, %d]; using %d", name, v,
		    min, max, fallback);
		return fallback;
	}
	return (int)n;
}

/* 1/0, true/false, yes/no, on/off; anything else keeps the fallback. */
static bool
env_bool(const char *name, bool fallback)
{
	static const char *const yes[] = {"1", "true", "yes", "on", NULL};
	static const char *const no[] = {"0", "false", "no", "off", NULL};
	const char *v = getenv(name);

	if (v == NULL || *v == '\0')
		return fallback;
	for (int i = 0; yes[i] != NULL; i++)
		if (strcasecmp(v, yes[i]) == 0)
			return true;
	for (int i = 0; no[i] != NULL; i++)
		if (strcasecmp(v, no[i]) == 0)
			return false;
	log_warn("%s=%s is not a boolean (1/0, true/false); using %d", name, v, fallback);
	return fallback;
}

static int
load_jwt_key(const char *path)
{
	FILE *f = fopen(path, "rb");

	if (f == NULL) {
		log_error("cannot open the JWT key file %s: %s", path, strerror(errno));
		return -1;
	}
	size_t n = fread(config.jwt_key, 1, sizeof(config.jwt_key), f);
	fclose(f);
	while (n > 0 && (config.jwt_key[n - 1] == '\n' || config.jwt_key[n - 1] == '\r'))
		n--;
	if (n < 32) {
		log_error("the JWT key in %s is shorter than 32 bytes", path);
		return -1;
	}
	config.jwt_key_len = n;
	return 0;
}

int
config_load(int need_jwt_key)
{
	config.database_url = env_str("CRM_DATABASE_URL", "dbname=crm");
	config.admin_database_url = env_str("CRM_ADMIN_DATABASE_URL", config.database_url);
	config.redis_url = env_str("CRM_REDIS_URL", "redis://127.0.0.1:6379");
	config.socket_path = env_str("CRM_SOCKET", "var/dev/run/crm-api.sock");
	config.export_dir = env_str("CRM_EXPORT_DIR", "var/dev/exports");
	config.log_level = env_str("CRM_LOG_LEVEL", "info");
	config.version = CRM_VERSION;
	config.workers = env_int("CRM_WORKERS", 8, 1, 256);
	config.login_fails_per_email = env_int("CRM_LOGIN_FAILS_PER_EMAIL", 5, 1, 1000000);
	config.login_fails_per_ip = env_int("CRM_LOGIN_FAILS_PER_IP", 50, 1, 1000000);
	config.signups_per_ip = env_int("CRM_SIGNUPS_PER_IP", 20, 1, 1000000);
	config.smtp_url = env_str("CRM_SMTP_URL", "");
	config.smtp_from = env_str("CRM_SMTP_FROM", "noreply@crm.local");
	config.public_url = env_str("CRM_PUBLIC_URL", "");
	config.webhook_allow_private = env_bool("CRM_WEBHOOK_ALLOW_PRIVATE", false);
	log_set_level(config.log_level);

	const char *key_file = getenv("CRM_JWT_KEY_FILE");
	config.jwt_key_len = 0;
	if (key_file != NULL && *key_file != '\0')
		return load_jwt_key(key_file);
	if (need_jwt_key) {
		log_error("CRM_JWT_KEY_FILE is not set");
		return -1;
	}
	return 0;
}
