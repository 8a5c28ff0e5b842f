/* What every verb shares: the common options and endpoint formatting. */
#include <getopt.h>
#include <stdbool.h>
#include <string.h>

#include "cli/cli.h"
#include "shared/log.h"

int cli_common_option(int c, const char *verb, char **argv, void (*help)(FILE *out))
{
        switch (c) {
        case 'h':
                help(stdout);
                return EXIT_OK;
        case 'v':
                log_adjust_level(+1);
                return CLI_OPTION_DONE;
        case 'q':
                log_set_max_level(LOG_LEVEL_ERROR);
                return CLI_OPTION_DONE;
        case ':':
                return usage_error(verb, "option '%s' needs a value", argv[optind - 1]);
        default:
                return usage_error(verb, "unknown option '%s'", argv[optind - 1]);
        }
}

void cli_format_endpoint(const char *label, int port, char *buf, size_t size)
{
        /* Bracket IPv6 addresses, not role labels (which hold a ':' too). */
        bool v6 = strchr(label, ':') && strspn(label, "0123456789abcdefABCDEF:.") == strlen(label);
        char portbuf[16];

        if (port > 0)
                snprintf(portbuf, sizeof(portbuf), "%d", port);
        else
                strcpy(portbuf, "many");
        snprintf(buf, size, v6 ? "[%s]:%s" : "%s:%s", label, portbuf);
}
