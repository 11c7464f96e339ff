/* A tenant's life cycle: platform and tenant schema migrations, provisioning
 * (role, schema, migrations, starter data, owner), export and deletion.
 * Every function works inside r's transaction and leaves the commit to the
 * caller, except the migrators, which commit each unit themselves. */
#ifndef CRM_TENANTS_H
#define CRM_TENANTS_H

#include <stdint.h>

#include "app/core/req.h"

/* The newest tenant schema version compiled into this binary. */
int tenants_latest_version(void);

/* Applies the pending platform migrations, each in its own transaction.
 * Needs the admin connection. */
int tenants_migrate_platform(struct req *r);

/* Claims one tenant whose schema is behind (FOR UPDATE SKIP LOCKED, so
 * several migrators can run side by side), migrates it in one transaction.
 * Sets *tenant_id to the tenant migrated, or 0 when none was left. */
int tenants_migrate_next(struct req *r, int64_t *tenant_id);

/* Enters tenant_id's context and applies the tenant migrations newer than
 * from; the transaction stays in the tenant's context. */
int tenants_schema_upgrade(struct req *r, int64_t tenant_id, int from);

struct tenant_owner {
	int64_t user_id;	/* an existing user, or 0 to create one */
	const char *email, *name, *password_hash, *locale;
};

/* Creates the tenant (row, role, schema, migrations, default roles and
 * pipeline from tenants/templates/default.json, the owner's membership).
 * Fails with ERR_SLUG_TAKEN or ERR_EMAIL_TAKEN; nothing is left behind
 * when the caller rolls back. */
int tenants_provision(struct req *r, const char *slug, const char *company,
    struct tenant_owner *owner, int64_t *tenant_id);

/* Writes the tenant's data to CRM_EXPORT_DIR (a JSON file, mode 0600) and
 * locks its row until the transaction ends. *file receives the file name. */
int tenants_export(struct req *r, int64_t tenant_id, const char **file);
/* Removes the tenant: row, memberships, schema and role. */
int tenants_drop(struct req *r, int64_t tenant_id);

#endif
