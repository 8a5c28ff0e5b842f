/* A netdep server's URL may carry a path prefix (a reverse proxy serving
 * it under /netdep/): the API's paths go below it. */
#pragma once

#include <curl/curl.h>

/* Sets u's path to its own path, without a trailing '/', followed by
 * api_path ("/api/v1/look"), and drops its query and fragment. 0, or
 * -EINVAL / -ENOMEM. */
int nd_url_set_api_path(CURLU *u, const char *api_path);
