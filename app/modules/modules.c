/* The modules crm-api serves: the only place that lists them. */
#include "app/core/module.h"

extern const struct module system_module, auth_module, members_module,
    platform_module, records_module;

const struct module *const modules[] = {
	&system_module,
	&auth_module,
	&members_module,
	&platform_module,
	&records_module,
	NULL,
};
