/* The path of a request through crm-api: parameters → route → identity →
 * body → handler → answer → access log. */
#ifndef CRM_DISPATCH_H
#define CRM_DISPATCH_H

#include "arena.h"

typedef struct FCGX_Request FCGX_Request;

void dispatch_request(FCGX_Request *fr, struct arena *a);

#endif
