/* Configuration from environment variables (docs/OPERATIONS.md lists them).
 * Read once at start-up. A SIGHUP re-executes crm-api with the environment
 * it started with: it picks up a new binary and JWT key file, while a changed
 * variable needs a restart. */
#ifndef CRM_CONFIG_H
#define CRM_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

struct config {
	const char *database_url;
	const char *admin_database_url;
	const char *redis_url;
	const char *socket_path;
	const char *export_dir;
	const char *log_level;
	const char *version;
	int workers;
	int login_fails_per_email;
	int login_fails_per_ip;
	int signups_per_ip;
	/* crm-worker's deliveries (app/modules/automation/deliver.c) */
	const char *smtp_url;	/* "" when e-mail is not configured */
	const char *smtp_from;	/* envelope and From address of e-mail */
	const char *public_url;	/* where users open the app: links in e-mail */
	bool webhook_allow_private;	/* webhooks may reach private addresses */
	unsigned char jwt_key[256];
	size_t jwt_key_len;	/* 0 when no key file was configured */
};

extern struct config config;

/* Fills `config` from the environment. With need_jwt_key, a missing or short
 * key file is fatal (returns -1 after logging why). */
int config_load(int need_jwt_key);

#endif
