/* Helpers shared by the unit tests. */
#pragma once

#include <stddef.h>

/* Reads $ND_TEST_DATA/name into a malloc'd buffer; fails the test if absent. */
void *test_read_data(const char *name, size_t *ret_len);
