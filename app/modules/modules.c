/* The modules crm-api serves: the only place that lists them. */
#include "app/core/module.h"

extern const struct module system_module, auth_module, members_module,
    platform_module, catalog_module, records_module,
    imports_module, automation_module;

const struct module *const modules[] = {
	&system_module,
	&auth_module,
	&members_module,
	&platform_module,
	&catalog_module,	/* before records: /customers/duplicates vs /customers/{id} */
	&automation_module,	/* before records: /customers/pool */
	&records_module,
	&imports_module,
	NULL,
};
