#include "shared/url_path.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int nd_url_set_api_path(CURLU *u, const char *api_path)
{
        char *prefix = NULL, *path = NULL;
        size_t len;
        int r = 0;

        if (curl_url_get(u, CURLUPART_PATH, &prefix, 0) != CURLUE_OK)
                return -EINVAL;
        len = strlen(prefix);
        while (len > 0 && prefix[len - 1] == '/')
                len--;
        if (asprintf(&path, "%.*s%s", (int)len, prefix, api_path) < 0)
                r = -ENOMEM;
        else if (curl_url_set(u, CURLUPART_PATH, path, 0) != CURLUE_OK ||
                 curl_url_set(u, CURLUPART_QUERY, NULL, 0) != CURLUE_OK ||
                 curl_url_set(u, CURLUPART_FRAGMENT, NULL, 0) != CURLUE_OK)
                r = -EINVAL;
        curl_free(prefix);
        free(path);
        return r;
}
